import { isPattern, matchesPattern } from '../events/patterns.js';
import type { DeadLetterStore } from './dead-letters.js';
import { HybridDeadLetters } from './hybrid-dead-letters.js';
import type { KeyValueStore } from './key-value.js';
import type { ServicePresence } from './presence.js';
import type { RequestTransport } from './requests.js';
import type {
  ConsumerHandle,
  ConsumerSpec,
  DeliverySink,
  OutboundMessage,
  PublishReceipt,
  ReadRequest,
  ReplayRequest,
  ReplayResult,
  StoredEvent,
  Transport,
  TransportContext,
  TransportStatus,
} from './transport.js';

/** Which event types stay in this process (`scope: 'local'`). */
export interface EventScopes {
  /** Every registered event type: what a pattern can match. */
  readonly types: readonly string[];
  /** @returns true when `type` is delivered in this process only, never sent to the broker */
  isLocal(type: string): boolean;
}

/** Where events of a type or pattern live: this process, the broker, or (a pattern) both. */
export type Side = 'local' | 'remote' | 'both';

/**
 * One transport made of two: events of local types go to `local` (an in-process memory
 * transport of this runtime's own) and never reach the broker; every other type goes to
 * `remote`. Consumers, replays, backlogs and history route the same way, a pattern that matches
 * types of both sides consuming from both; dead letters are the two stores seen as one. Job
 * queues, key-value buckets, discovery, request/reply and status are the remote's.
 * @param remote - the runtime's transport (NATS, or a memory transport shared by runtimes)
 * @param local - a transport only this runtime uses; started and closed with the hybrid
 * @returns a transport with the remote's capabilities (and type)
 * @example
 * const transport = hybridTransport(natsTransport({ servers }), memoryTransport(), {
 *   types: events.types,
 *   isLocal: (type) => events.scope(type) === 'local',
 * });
 */
export function hybridTransport<R extends Transport>(remote: R, local: Transport, scopes: EventScopes): R {
  return new HybridTransport(remote, local, scopes) as unknown as R;
}

class HybridTransport implements Transport {
  readonly kind: string;
  readonly deadLetters: DeadLetterStore;
  readonly backlog?: (type: string, group: string) => Promise<number | undefined>;
  readonly replay?: (request: ReplayRequest) => Promise<ReplayResult>;
  readonly read?: (request: ReadRequest) => AsyncIterable<StoredEvent>;
  readonly presence?: () => ServicePresence;
  readonly requests?: () => RequestTransport;
  private readonly sides = new Map<string, Side>();
  private closing: Promise<void> | undefined;

  constructor(
    private readonly remote: Transport,
    private readonly local: Transport,
    private readonly scopes: EventScopes,
  ) {
    this.kind = remote.kind;
    this.deadLetters = new HybridDeadLetters(remote.deadLetters, local.deadLetters, (t) => this.side(t));
    const { backlog, replay, read, presence, requests } = remote;
    if (backlog)
      this.backlog = (type, group) => this.by(type).backlog?.(type, group) ?? Promise.resolve(undefined);
    if (replay) this.replay = (request) => this.replayOn(this.by(request.type), request);
    if (read) this.read = (request) => this.readOn(request);
    if (presence) this.presence = () => presence.call(remote);
    if (requests) this.requests = () => requests.call(remote);
    forwardUnrouted(this, remote);
  }

  get namespace(): string | undefined {
    return this.remote.namespace;
  }

  /** Where events of a type, or of the types a pattern matches, live. */
  side(typeOrPattern: string): Side {
    let side = this.sides.get(typeOrPattern);
    if (side === undefined) {
      side = sideOf(typeOrPattern, this.scopes);
      this.sides.set(typeOrPattern, side);
    }
    return side;
  }

  private by(type: string): Transport {
    return this.side(type) === 'local' ? this.local : this.remote;
  }

  async start(ctx: TransportContext): Promise<void> {
    await Promise.all([this.local.start(ctx), this.remote.start(ctx)]);
  }

  publish(msg: OutboundMessage): Promise<PublishReceipt> {
    return this.by(msg.type).publish(msg);
  }

  /** Each side pipelined; receipts come back in the order of `msgs`. */
  async publishMany(msgs: readonly OutboundMessage[]): Promise<PublishReceipt[]> {
    const local = msgs.filter((m) => this.side(m.type) === 'local');
    if (local.length === 0) return this.remote.publishMany(msgs);
    if (local.length === msgs.length) return this.local.publishMany(msgs);
    const remote = msgs.filter((m) => this.side(m.type) !== 'local');
    const [l, r] = await Promise.all([this.local.publishMany(local), this.remote.publishMany(remote)]);
    let li = 0;
    let ri = 0;
    return msgs.map((m) => (this.side(m.type) === 'local' ? l[li++]! : r[ri++]!));
  }

  publishRaw(
    type: string,
    body: Uint8Array | string,
    headers?: Readonly<Record<string, string>>,
    msgId?: string,
  ): Promise<PublishReceipt> {
    return this.by(type).publishRaw(type, body, headers, msgId);
  }

  consume(spec: ConsumerSpec, sink: DeliverySink): ConsumerHandle {
    const side = this.side(spec.type);
    if (side !== 'both') return this.by(spec.type).consume(spec, sink);
    // One consumer as far as the subscriber knows: it hears of the first failure only.
    let failed = false;
    const once: DeliverySink = {
      deliver: (delivery) => sink.deliver(delivery),
      failed: (error) => (failed ? undefined : ((failed = true), sink.failed(error))),
    };
    return bothHandles(this.local.consume(spec, once), this.remote.consume(spec, once));
  }

  private replayOn(transport: Transport, request: ReplayRequest): Promise<ReplayResult> {
    if (!transport.replay) return Promise.resolve({ replayed: 0 });
    return transport.replay(request);
  }

  /**
   * History of a pattern that spans both sides is the broker's: the two logs number their events
   * apart, so no `fromSeq` could mean one place in both. Local types are read by a type or a
   * pattern of local types only.
   */
  private readOn(request: ReadRequest): AsyncIterable<StoredEvent> {
    const transport = this.side(request.pattern) === 'local' ? this.local : this.remote;
    return transport.read ? transport.read(request) : empty();
  }

  keyValue(bucket: string, options?: { readonly create?: boolean }): Promise<KeyValueStore> {
    return this.remote.keyValue(bucket, options);
  }

  status(): TransportStatus {
    return this.remote.status();
  }

  onStatus(listener: (status: TransportStatus) => void): () => void {
    return this.remote.onStatus(listener);
  }

  /** Closes both; idempotent. */
  close(): Promise<void> {
    return (this.closing ??= Promise.all([this.local.close(), this.remote.close()]).then(() => undefined));
  }
}

/** @returns where `typeOrPattern` lives; a pattern that matches no registered type is the broker's. */
export function sideOf(typeOrPattern: string, scopes: EventScopes): Side {
  if (!isPattern(typeOrPattern)) return scopes.isLocal(typeOrPattern) ? 'local' : 'remote';
  let local = false;
  let remote = false;
  for (const type of scopes.types) {
    if (!matchesPattern(typeOrPattern, type)) continue;
    if (scopes.isLocal(type)) local = true;
    else remote = true;
  }
  return local && remote ? 'both' : local ? 'local' : 'remote';
}

/**
 * Capabilities a transport may add beyond the contract, which the hybrid does not route (job
 * queues: `queueStore`), are the remote's, looked up by name so that this contract-level file
 * needs no import from the layers that define them.
 */
function forwardUnrouted(hybrid: HybridTransport, remote: Transport): void {
  const own = hybrid as unknown as Record<string, unknown>;
  const extra = remote as unknown as Record<string, unknown>;
  for (const name of ['queueStore']) {
    const fn = extra[name];
    if (typeof fn === 'function') own[name] = fn.bind(remote);
  }
}

function bothHandles(a: ConsumerHandle, b: ConsumerHandle): ConsumerHandle {
  return {
    ready: Promise.all([a.ready, b.ready]).then(() => undefined),
    stop: () => Promise.all([a.stop(), b.stop()]).then(() => undefined),
  };
}

async function* empty(): AsyncGenerator<StoredEvent> {}
