import { headers as natsHeaders, type Msg, type NatsConnection } from '@nats-io/transport-node';
import { RemoteError, TransportError } from '../../../errors.js';
import type {
  EndpointHandle,
  EndpointSpec,
  IncomingRequest,
  OutgoingRequest,
  RequestSink,
  RequestTransport,
} from '../../requests.js';
import { listEndpoint } from './directory.js';
import { listServed } from './listing.js';
import { RequestMux } from './mux.js';
import { rpcSubject, RpcWire } from './wire.js';

const EMPTY = new Uint8Array(0);

/** A request as it arrived on the endpoint's subject; answered once. */
class NatsIncoming implements IncomingRequest {
  private answered = false;

  constructor(
    readonly endpoint: string,
    private readonly msg: Msg,
  ) {}

  get body(): Uint8Array {
    return this.msg.data;
  }

  get timeoutMs(): number | undefined {
    const value = this.header(RpcWire.deadlineHeader);
    const ms = value === undefined ? NaN : Number(value);
    return Number.isFinite(ms) && ms >= 0 ? ms : undefined;
  }

  header(name: string): string | undefined {
    return this.msg.headers?.get(name) || undefined;
  }

  respond(body: Uint8Array | string): void {
    if (this.answered) return;
    this.answered = true;
    this.msg.respond(body);
  }

  fail(code: number, message: string): void {
    if (this.answered) return;
    this.answered = true;
    const h = natsHeaders();
    h.set(RpcWire.errorHeader, message);
    h.set(RpcWire.errorCodeHeader, String(code));
    this.msg.respond(EMPTY, { headers: h });
  }
}

/**
 * Request/reply on the NATS micro protocol: each endpoint a subscription on `<prefix>.rpc.<name>`
 * in queue group `q`, listed for `$SRV` discovery under its service instance; errors answered with
 * the `Nats-Service-Error` headers; the caller's deadline sent as a header.
 * @example
 * const requests = natsRequests(nc, 'shop');
 * const body = await requests.request({ endpoint: 'orders.get', body: '{"id":"1"}', timeoutMs: 2_000 });
 */
export function natsRequests(nc: NatsConnection, prefix: string): RequestTransport {
  const mux = new RequestMux(nc);
  return {
    serve: (spec, sink) => serve(nc, prefix, spec, sink),
    request: (req) => request(mux, prefix, req),
    endpoints: (service, timeoutMs) => listServed(nc, prefix, service, timeoutMs),
  };
}

function serve(nc: NatsConnection, prefix: string, spec: EndpointSpec, sink: RequestSink): EndpointHandle {
  const subject = rpcSubject(prefix, spec.name);
  const name = spec.name;
  const sub = nc.subscribe(subject, {
    queue: RpcWire.queueGroup,
    callback: (err, msg) => (err ? undefined : sink.request(new NatsIncoming(name, msg))),
  });
  const unlist = listEndpoint(nc, spec, subject);
  let stopping: Promise<void> | undefined;
  void sub.closed.then((err) => {
    unlist();
    if (!stopping) sink.failed(err ?? new TransportError(`the subscription of endpoint "${name}" closed`));
  });
  return {
    ready: nc.flush(),
    stop: () =>
      (stopping ??= (async () => {
        unlist();
        if (!sub.isClosed()) await sub.drain().catch(() => undefined);
      })()),
  };
}

async function request(mux: RequestMux, prefix: string, req: OutgoingRequest): Promise<Uint8Array> {
  const h = natsHeaders();
  if (req.headers) for (const [k, v] of Object.entries(req.headers)) h.set(k, v);
  const timeoutMs = Math.max(1, Math.round(req.timeoutMs));
  h.set(RpcWire.deadlineHeader, String(timeoutMs));
  const reply = await mux.request(rpcSubject(prefix, req.endpoint), req.body, h, timeoutMs, req.endpoint);
  const code = reply.headers?.get(RpcWire.errorCodeHeader);
  if (code) throw new RemoteError(req.endpoint, Number(code), reply.headers?.get(RpcWire.errorHeader) ?? '');
  return reply.data;
}
