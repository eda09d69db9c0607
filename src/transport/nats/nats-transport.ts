import { uuidv7 } from '../../events/ids.js';
import { ClosedError } from '../../errors.js';
import { silentLogger, type Logger } from '../../logging.js';
import type { QueueStore, QueueStoreOptions, QueueTransport } from '../../queue/store.js';
import type { DeadLetterStore } from '../dead-letters.js';
import type { KeyValueStore } from '../key-value.js';
import type { ServicePresence } from '../presence.js';
import type {
  ConsumerHandle,
  ConsumerSpec,
  DeliverySink,
  OutboundMessage,
  PublishReceipt,
  ReplayRequest,
  ReplayResult,
  TransportContext,
  TransportStatus,
} from '../transport.js';
import type { NatsLink } from './connection.js';
import { ConnectionState, ConnectionStatus } from './connection-status.js';
import { Outbox } from './outbox.js';
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
  private logger: Logger = silentLogger;
  private link: NatsLink | undefined;
  private starting: Promise<NatsLink> | undefined;
  private closing: Promise<void> | undefined;
  private closed = false;
  private users = 0;

  constructor(private readonly options: NatsTransportOptions) {
    this.o = resolveOptions(options);
    this.names = new Names(this.o.prefix);
    this.outbox = new Outbox(this.o.outboxMax, this.o.outboxFile);
    this.connStatus = new ConnectionStatus(() => this.outbox.size, silentLogger);
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

  private async open(ctx: TransportContext): Promise<NatsLink> {
    this.logger = ctx.logger.child({ transport: 'nats' });
    const { openConnection } = await import('./connection.js');
    const link = await openConnection({
      options: this.options,
      o: this.o,
      names: this.names,
      outbox: this.outbox,
      status: this.connStatus,
      logger: this.logger,
      service: ctx.service,
      onState: (state) => this.onConnection(state),
    });
    this.link = link;
    this.connStatus.set(ConnectionState.connected, link.server());
    if (this.outbox.size > 0) void link.publisher.flush();
    this.logger.info({ server: link.server(), version: link.features.version }, 'NATS transport started');
    return link;
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
    return new ClosedError(
      this.closed || this.closing ? 'the NATS transport is closed' : 'the NATS transport is not started',
    );
  }

  publish(msg: OutboundMessage): Promise<PublishReceipt> {
    if (!this.link) return Promise.reject(this.notUsable());
    return this.link.publisher.publish(msg);
  }

  publishMany(msgs: readonly OutboundMessage[]): Promise<PublishReceipt[]> {
    const link = this.link;
    if (!link) return Promise.reject(this.notUsable());
    return Promise.all(msgs.map((m) => link.publisher.publish(m)));
  }

  publishRaw(
    type: string,
    body: Uint8Array | string,
    headers: Readonly<Record<string, string>> = {},
    msgId?: string,
  ): Promise<PublishReceipt> {
    if (!this.link) return Promise.reject(this.notUsable());
    const id = msgId ?? headers[WireHeader.msgId] ?? uuidv7();
    const bytes = typeof body === 'string' ? encoder.encode(body) : body;
    return this.link.publisher.publishRaw(this.names.eventSubject(type), bytes, id, headers);
  }

  consume(spec: ConsumerSpec, sink: DeliverySink): ConsumerHandle {
    if (this.link) return this.link.consume(spec, sink);
    const ready = Promise.reject(this.notUsable());
    ready.catch(() => undefined);
    return { ready, stop: async () => undefined };
  }

  /** Health notices on `<prefix>.health.<service>` and `$SRV` discovery over this connection. */
  presence(): ServicePresence {
    return this.required().presence();
  }

  async keyValue(bucket: string): Promise<KeyValueStore> {
    return this.required().keyValue(bucket);
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
    const link = await this.starting?.catch(() => undefined);
    await link?.close();
    this.link = undefined;
    this.starting = undefined;
    this.closing = undefined;
    this.closed = true;
    this.connStatus.set(ConnectionState.closed);
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
