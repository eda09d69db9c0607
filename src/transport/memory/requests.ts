import { NoRespondersError, RemoteError, TimeoutError } from '../../errors.js';
import type { Clock } from '../../time/clock.js';
import type {
  EndpointHandle,
  EndpointListing,
  EndpointSpec,
  IncomingRequest,
  OutgoingRequest,
  RequestSink,
  RequestTransport,
} from '../requests.js';

interface Server {
  readonly spec: EndpointSpec;
  readonly sink: RequestSink;
}

const EMPTY: Readonly<Record<string, string>> = Object.freeze({});

/** One request in flight: answered once, by a reply, an error or its timer. */
class PendingRequest implements IncomingRequest {
  private done = false;
  private timer: unknown;

  constructor(
    private readonly clock: Clock,
    private readonly req: OutgoingRequest,
    private readonly resolve: (body: Uint8Array | string) => void,
    private readonly reject: (err: Error) => void,
  ) {
    this.timer = clock.setTimeout(() => this.settle(new TimeoutError(req.timeoutMs)), req.timeoutMs);
  }

  get endpoint(): string {
    return this.req.endpoint;
  }
  get body(): Uint8Array | string {
    return this.req.body;
  }
  get timeoutMs(): number {
    return this.req.timeoutMs;
  }
  header(name: string): string | undefined {
    return (this.req.headers ?? EMPTY)[name];
  }

  respond(body: Uint8Array | string): void {
    this.settle(undefined, body);
  }

  fail(code: number, message: string): void {
    this.settle(new RemoteError(this.req.endpoint, code, message));
  }

  private settle(err: Error | undefined, body?: Uint8Array | string): void {
    if (this.done) return;
    this.done = true;
    this.clock.clearTimeout(this.timer);
    if (err) this.reject(err);
    else this.resolve(body!);
  }
}

/**
 * Request/reply inside one process, for every runtime given the same memory transport: the
 * endpoints of one name form a queue group served in turn, a request nobody serves fails at once
 * with `NoRespondersError`, and one without a reply within its timeout with `TimeoutError`.
 * @example
 * const requests = new MemoryRequests(systemClock);
 * requests.serve(spec, { request: (r) => r.respond(r.body), failed: () => undefined });
 */
export class MemoryRequests implements RequestTransport {
  private readonly groups = new Map<string, Server[]>();
  private readonly turns = new Map<string, number>();

  constructor(private readonly clock: Clock) {}

  serve(spec: EndpointSpec, sink: RequestSink): EndpointHandle {
    const server: Server = { spec, sink };
    const group = this.groups.get(spec.name) ?? [];
    group.push(server);
    this.groups.set(spec.name, group);
    let stopped = false;
    return {
      ready: Promise.resolve(),
      stop: async () => {
        if (stopped) return;
        stopped = true;
        const servers = this.groups.get(spec.name);
        servers?.splice(servers.indexOf(server), 1);
        if (servers?.length === 0) this.groups.delete(spec.name);
      },
    };
  }

  request(req: OutgoingRequest): Promise<Uint8Array | string> {
    const server = this.next(req.endpoint);
    if (!server) return Promise.reject(new NoRespondersError(req.endpoint));
    return new Promise((resolve, reject) => {
      const pending = new PendingRequest(this.clock, req, resolve, reject);
      // Handed over on a later turn, as a broker would: the caller's code after `request()` runs first.
      queueMicrotask(() => server.sink.request(pending));
    });
  }

  async endpoints(service: string | undefined): Promise<EndpointListing[]> {
    const out: EndpointListing[] = [];
    for (const servers of this.groups.values())
      for (const { spec } of servers)
        if (service === undefined || spec.service === service)
          out.push({
            service: spec.service,
            instanceId: spec.instanceId,
            name: spec.name,
            metadata: spec.metadata,
            counters: spec.counters(),
          });
    return out;
  }

  /** The group's next server in turn. */
  private next(name: string): Server | undefined {
    const servers = this.groups.get(name);
    if (!servers?.length) return undefined;
    const turn = (this.turns.get(name) ?? 0) % servers.length;
    this.turns.set(name, turn + 1);
    return servers[turn];
  }
}
