import { sleep } from '../../time/sleep.js';
import { uuidv7 } from '../../events/ids.js';
import { ClosedError, TransportError } from '../../errors.js';
import { silentLogger, type Logger } from '../../logging.js';
import type { QueueStore, QueueStoreOptions, QueueTransport } from '../../queue/store.js';
import type { DeadLetterStore } from '../dead-letters.js';
import type { KeyValueStore } from '../key-value.js';
import type { ServicePresence } from '../presence.js';
import type { RequestTransport } from '../requests.js';
import { lazyNatsRequests } from './rpc/lazy.js';
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
  TransportContext,
  TransportStatus,
} from '../transport.js';
import type { NatsLink } from './connection.js';
import type { Delayed } from './delayed.js';
import { ConnectionState, ConnectionStatus } from './connection-status.js';
import { Outbox } from './outbox.js';
import { Publisher } from './publisher.js';
import { Names } from './toolkit/names.js';
import { resolveOptions, type NatsTransportOptions, type ResolvedNatsOptions } from './toolkit/options.js';
import { WireHeader } from './toolkit/wire.js';

const encoder = new TextEncoder();

/**
 * The NATS JetStream transport: durable, at-least-once delivery per group with competing
 * consumers, broadcast, redelivery with delay, a dedup window, dead letters, replay, and a
 * publish outbox that rides out broker outages. The NATS client is loaded by `start()`, so
 * importing bulwark loads none of it.
 * @throws {TypeError} when an option is invalid (a prefix that is not one subject token)
 * @example
 * const rt = await createRuntime({
 *   service: 'accounts',
 *   events,
 *   transport: natsTransport({ servers: process.env.NATS_URL, prefix: 'shop' }),
 * });
 */
export function natsTransport(options: NatsTransportOptions = {}): QueueTransport {
  return new NatsTransport(options);
}

class NatsTransport implements QueueTransport {
  readonly kind = 'nats';
  readonly deadLetters: DeadLetterStore;
  private readonly o: ResolvedNatsOptions;
  private readonly names: Names;
  private readonly outbox: Outbox;
  private readonly connStatus: ConnectionStatus;
  private readonly publisher: Publisher;
  private logger: Logger = silentLogger;
  private link: NatsLink | undefined;
  private starting: Promise<void> | undefined;
  /** Started without the broker: connecting in the background, publishes wait in the outbox. */
  private reconnecting: Promise<void> | undefined;
  /** Consumers asked for before the first connection; started once it is up. */
  private readonly waitingConsumers = new Set<WaitingConsumer>();
  private readonly presenceWaiters = new Set<(presence: ServicePresence) => void>();
  private requestsOf: RequestTransport | undefined;
  private closing: Promise<void> | undefined;
  private closed = false;
  /** Delayed publishing and the mover of due events, loaded with the first connection (`delayed.ts`). */
  private delayed: Promise<Delayed> | undefined;
  /** True once a consumer was asked for: this transport then also moves due delayed events. */
  private consuming = false;
  private users = 0;

  constructor(private readonly options: NatsTransportOptions) {
    this.o = resolveOptions(options);
    this.names = new Names(this.o.prefix);
    this.outbox = new Outbox(this.o.outboxMax, this.o.outboxFile);
    this.connStatus = new ConnectionStatus(() => this.outbox.size, silentLogger);
    const logger = (): Logger => this.logger;
    this.publisher = new Publisher({
      names: this.names,
      outbox: this.outbox,
      get logger() {
        return logger();
      },
      publishTimeoutMs: this.o.publishTimeoutMs,
      maxPayload: () => this.link?.maxPayload ?? Number.POSITIVE_INFINITY,
      pubAck: () => this.link?.pubAck,
      stored: (ok, reason) => this.connStatus.stored(ok, reason),
    });
    this.deadLetters = lazyDeadLetters(() => this.required().dlq);
  }

  async start(ctx: TransportContext): Promise<void> {
    this.users++;
    this.closed = false;
    try {
      await (this.starting ??= this.open(ctx));
    } catch (err) {
      this.users--;
      this.starting = undefined;
      throw err;
    }
  }

  private async open(ctx: TransportContext): Promise<void> {
    this.logger = ctx.logger.child({ transport: 'nats' });
    this.publisher.reopen();
    const { UnreachableError } = await import('./connection.js');
    try {
      this.attach(await this.connect(ctx));
    } catch (err) {
      // Only an absent broker is waited for: one that answers but cannot serve is misconfigured.
      if (!this.o.startWithoutBroker || !(err instanceof UnreachableError)) throw err;
      this.logger.warn(
        { err, servers: this.o.servers },
        'NATS is not reachable; starting without it: publishes wait in the outbox, consumers start once it is',
      );
      this.reconnecting = this.connectLater(ctx);
    }
  }

  private async connect(ctx: TransportContext): Promise<NatsLink> {
    const { openConnection } = await import('./connection.js');
    return openConnection({
      options: this.options,
      o: this.o,
      names: this.names,
      outbox: this.outbox,
      publisher: this.publisher,
      status: this.connStatus,
      logger: this.logger,
      service: ctx.service,
      onState: (state) => this.onConnection(state),
    });
  }

  /** Tries again with backoff until the broker answers or the transport closes. */
  private async connectLater(ctx: TransportContext): Promise<void> {
    for (let i = 0; !this.closed && !this.closing; i++) {
      await sleep(RECONNECT_MS[Math.min(i, RECONNECT_MS.length - 1)]!);
      if (this.closed || this.closing) return;
      try {
        const link = await this.connect(ctx);
        if (this.closed || this.closing) return void (await link.close());
        return this.attach(link);
      } catch (err) {
        this.logger.debug({ err }, 'NATS still not reachable');
      }
    }
  }

  private attach(link: NatsLink): void {
    this.link = link;
    this.reconnecting = undefined;
    this.publisher.connected = true;
    this.connStatus.set(ConnectionState.connected, link.server());
    if (this.outbox.size > 0) void this.publisher.flush();
    for (const c of this.waitingConsumers) c.attach(link);
    this.waitingConsumers.clear();
    for (const w of this.presenceWaiters) w(link.presence());
    this.presenceWaiters.clear();
    if (this.consuming) this.moveDelayed();
    this.logger.info({ server: link.server(), version: link.features.version }, 'NATS transport started');
  }

  private onConnection(state: ConnectionState): void {
    this.logger.info({ state, outbox: this.outbox.size }, 'NATS connection state changed');
    this.link?.resumed(state === ConnectionState.connected);
  }

  private required(): NatsLink {
    if (this.link) return this.link;
    throw this.notUsable();
  }

  private notUsable(): Error {
    if (this.reconnecting)
      return new TransportError(`NATS at ${this.o.servers.join(', ')} is not reachable yet`);
    return new ClosedError(
      this.closed || this.closing ? 'the NATS transport is closed' : 'the NATS transport is not started',
    );
  }

  /** Publishes are taken once started, connected or not: without a connection they wait in the outbox. */
  private get accepting(): boolean {
    return this.link !== undefined || this.reconnecting !== undefined;
  }

  publish(msg: OutboundMessage): Promise<PublishReceipt> {
    if (!this.accepting) return Promise.reject(this.notUsable());
    if (msg.delayMs !== undefined && msg.delayMs !== 0) return this.publishDelayed(msg, msg.delayMs);
    return this.publisher.publish(msg);
  }

  publishMany(msgs: readonly OutboundMessage[]): Promise<PublishReceipt[]> {
    if (!this.accepting) return Promise.reject(this.notUsable());
    return Promise.all(
      msgs.map((m) => (m.delayMs === undefined ? this.publisher.publish(m) : this.publish(m))),
    );
  }

  /** Stored on the delay stream; delivered by a mover once due (see `delayed.ts`). */
  private async publishDelayed(msg: OutboundMessage, delayMs: number): Promise<PublishReceipt> {
    return (await this.delayedParts()).events.publish(msg, delayMs);
  }

  /** Starts the mover of due delayed events, once. */
  private moveDelayed(): void {
    if (this.delayed) return;
    this.delayedParts().catch((err: unknown) => this.logger.warn({ err }, 'delayed events not moved'));
  }

  private delayedParts(): Promise<Delayed> {
    return (this.delayed ??= import('./delayed.js').then(({ startDelayed }) =>
      startDelayed({
        names: this.names,
        publisher: this.publisher,
        logger: this.logger,
        jsm: () => this.link?.jsm,
        options: this.o,
      }),
    ));
  }

  publishRaw(
    type: string,
    body: Uint8Array | string,
    headers: Readonly<Record<string, string>> = {},
    msgId?: string,
  ): Promise<PublishReceipt> {
    if (!this.accepting) return Promise.reject(this.notUsable());
    const id = msgId ?? headers[WireHeader.msgId] ?? uuidv7();
    const bytes = typeof body === 'string' ? encoder.encode(body) : body;
    return this.publisher.publishRaw(this.names.eventSubject(type), bytes, id, headers);
  }

  consume(spec: ConsumerSpec, sink: DeliverySink): ConsumerHandle {
    // Only transports that deliver move due delayed events: a CLI or a publisher-only process never polls.
    this.consuming = true;
    if (this.link) {
      this.moveDelayed();
      return this.link.consume(spec, sink);
    }
    if (this.reconnecting) {
      const waiting: WaitingConsumer = new WaitingConsumer(spec, sink, () =>
        this.waitingConsumers.delete(waiting),
      );
      this.waitingConsumers.add(waiting);
      return waiting;
    }
    const ready = Promise.reject(this.notUsable());
    ready.catch(() => undefined);
    return { ready, stop: async () => undefined };
  }

  /**
   * Health notices on `<prefix>.health.<service>` and `$SRV` discovery over this connection; while
   * the transport waits for the broker, what is asked of it is done once it is connected.
   */
  presence(): ServicePresence {
    if (this.link || !this.reconnecting) return this.required().presence();
    const later = (): Promise<ServicePresence> =>
      this.link
        ? Promise.resolve(this.link.presence())
        : new Promise((resolve) => this.presenceWaiters.add(resolve));
    return {
      // A health change from before the broker answers is stale by then: not kept for later.
      publishStatus: async (service, body) => this.link?.presence().publishStatus(service, body),
      advertise: async (advert) => {
        const ad = later().then((p) => p.advertise(advert));
        ad.catch((err: unknown) => this.logger.warn({ err }, 'could not advertise the service'));
        return { stop: async () => (this.link ? (await ad).stop() : undefined) };
      },
      discover: async (service, timeoutMs) =>
        this.link ? this.link.presence().discover(service, timeoutMs) : [],
    };
  }

  /**
   * Request/reply on the NATS micro protocol over this connection (`<prefix>.rpc.<endpoint>`, queue
   * group `q`, listed in `$SRV` discovery); fails while the broker has not been reached.
   */
  requests(): RequestTransport {
    return (this.requestsOf ??= lazyNatsRequests(() => this.required().nc, this.o.prefix));
  }

  async keyValue(
    bucket: string,
    options?: { readonly create?: boolean; readonly ttlMs?: number },
  ): Promise<KeyValueStore> {
    return this.required().keyValue(bucket, options?.create ?? this.o.provision, options?.ttlMs);
  }

  /** The subject prefix (`prefix` option) that names this transport's streams and buckets. */
  get namespace(): string {
    return this.o.prefix;
  }

  async queueStore(name: string, options: QueueStoreOptions): Promise<QueueStore> {
    return this.required().queueStore(name, options);
  }

  async backlog(type: string, group: string): Promise<number | undefined> {
    return this.required().backlog(type, group);
  }

  async replay(request: ReplayRequest): Promise<ReplayResult> {
    return this.required().replay(request);
  }

  /** History through a short-lived ephemeral consumer (see `read.ts`); its code is loaded on first use. */
  async *read(request: ReadRequest): AsyncGenerator<StoredEvent> {
    const { readStream } = await import('./read.js');
    yield* readStream(this.required().jsm, this.names, request, this.o.requestTimeoutMs);
  }

  status(): TransportStatus {
    return this.connStatus.snapshot(this.link?.server());
  }

  onStatus(listener: (status: TransportStatus) => void): () => void {
    return this.connStatus.on(listener);
  }

  async close(): Promise<void> {
    if (this.users > 0) this.users--;
    if (this.users > 0) return;
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    await this.starting?.catch(() => undefined);
    for (const c of this.waitingConsumers) c.closed();
    this.waitingConsumers.clear();
    this.presenceWaiters.clear();
    const delayed = this.delayed;
    this.delayed = undefined;
    await (await delayed?.catch(() => undefined))?.mover.stop();
    const link = this.link;
    if (link) await link.close();
    else this.publisher.close();
    this.link = undefined;
    this.starting = undefined;
    this.closing = undefined;
    this.closed = true;
    this.connStatus.set(ConnectionState.closed);
  }
}

/** Waits between connection attempts of a transport that started without its broker. */
const RECONNECT_MS = [250, 500, 1_000, 2_000, 5_000] as const;

/** A consumer asked for before the broker was reachable: it starts once the first connection is up. */
class WaitingConsumer implements ConsumerHandle {
  readonly ready: Promise<void>;
  private handle: ConsumerHandle | undefined;
  private stopped = false;
  private resolve!: () => void;
  private reject!: (err: Error) => void;

  constructor(
    private readonly spec: ConsumerSpec,
    private readonly sink: DeliverySink,
    private readonly forget: () => void,
  ) {
    this.ready = new Promise<void>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    this.ready.catch(() => undefined);
  }

  attach(link: NatsLink): void {
    if (this.stopped) return;
    this.handle = link.consume(this.spec, this.sink);
    this.handle.ready.then(this.resolve, this.reject);
  }

  /** The transport closed before the broker was reached. */
  closed(): void {
    this.reject(new ClosedError('the NATS transport closed before the broker was reachable'));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.forget();
    this.reject(new ClosedError('the consumer stopped before the broker was reachable'));
    await this.handle?.stop();
  }
}

/** The store behind `deadLetters`, usable once the transport has started. */
function lazyDeadLetters(store: () => DeadLetterStore): DeadLetterStore {
  return {
    list: async (q) => store().list(q),
    get: async (id) => store().get(id),
    redrive: async (q) => store().redrive(q),
    purge: async (q) => store().purge(q),
    count: async (q) => store().count(q),
  };
}
