import { jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { uuidv7 } from '../../events/ids.js';
import { ClosedError, MissingStreamError, TransportError } from '../../errors.js';
import { silentLogger, type Logger } from '../../logging.js';
import type { DeadLetterStore } from '../dead-letters.js';
import type { KeyValueStore } from '../key-value.js';
import type { ServicePresence } from '../presence.js';
import type { QueueStore, QueueStoreOptions, QueueTransport } from '../../queue/store.js';
import type {
  ConsumerHandle,
  ConsumerSpec,
  DeliverySink,
  OutboundMessage,
  PublishReceipt,
  TransportContext,
  TransportStatus,
} from '../transport.js';
import { ConnectionState, ConnectionStatus } from './connection-status.js';
import { NatsConsumer, type ConsumerHost } from './consumer.js';
import { NatsDeadLetterStore } from './dead-letters.js';
import { natsPresence } from './discovery.js';
import { openNatsKeyValue } from './key-value.js';
import { Names } from './toolkit/names.js';
import { resolveOptions, type NatsTransportOptions, type ResolvedNatsOptions } from './toolkit/options.js';
import { Outbox } from './outbox.js';
import { ensureStreams } from './toolkit/provision.js';
import { Publisher } from './publisher.js';
import { PubAckPublisher } from './toolkit/pub-ack.js';
import { serverFeatures, type ServerFeatures } from './toolkit/server-features.js';

/** A started transport's connection and what hangs off it. */
interface Connected {
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  readonly publisher: Publisher;
  readonly pubAck: PubAckPublisher;
  readonly dlq: NatsDeadLetterStore;
  readonly features: ServerFeatures;
}

const encoder = new TextEncoder();

/**
 * The NATS JetStream transport: durable, at-least-once delivery per group with competing
 * consumers, broadcast, redelivery with delay, a dedup window, dead letters, replay, and a
 * publish outbox that rides out broker outages.
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
  private readonly consumers = new Set<NatsConsumer>();
  private logger: Logger = silentLogger;
  private conn: Connected | undefined;
  private starting: Promise<Connected> | undefined;
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

  private async open(ctx: TransportContext): Promise<Connected> {
    this.logger = ctx.logger.child({ transport: 'nats' });
    const nc = await this.connect(ctx.service);
    try {
      const { requestTimeoutMs: timeout, domain } = this.o;
      const jsm = await jetstreamManager(nc, { timeout, ...(domain !== undefined && { domain }) });
      await ensureStreams(jsm, this.names, this.o);
      const conn = this.wire(nc, jsm);
      this.conn = conn;
      this.connStatus.set(ConnectionState.connected, nc.getServer());
      void this.connStatus.follow(nc, (state) => this.onConnection(conn, state));
      if (this.outbox.size > 0) void conn.publisher.flush();
      this.logger.info({ server: nc.getServer(), version: conn.features.version }, 'NATS transport started');
      return conn;
    } catch (err) {
      await nc.close();
      if (err instanceof MissingStreamError) throw err;
      throw new TransportError(`NATS JetStream is not usable: ${(err as Error).message}`, { cause: err });
    }
  }

  private async connect(service: string): Promise<NatsConnection> {
    const { user, pass, token, authenticator, tls, name } = this.options;
    try {
      return await connect({
        servers: this.o.servers,
        name: name ?? `bulwark:${service}`,
        ...(user !== undefined && { user, pass }),
        ...(token !== undefined && { token }),
        ...(authenticator !== undefined && { authenticator }),
        ...(tls !== undefined && { tls }),
        maxReconnectAttempts: -1,
        reconnectTimeWait: 250,
        timeout: this.o.requestTimeoutMs,
      });
    } catch (err) {
      throw new TransportError(`cannot connect to NATS at ${this.o.servers.join(', ')}`, { cause: err });
    }
  }

  private wire(nc: NatsConnection, jsm: JetStreamManager): Connected {
    const js = jsm.jetstream();
    const { names, outbox, logger } = this;
    const timeoutMs = this.o.requestTimeoutMs;
    const pubAck = new PubAckPublisher(nc, timeoutMs);
    const publisher = new Publisher({
      pubAck,
      names,
      outbox,
      logger,
      timeoutMs,
      outboxChanged: () => undefined,
    });
    const dlq = new NatsDeadLetterStore({
      js,
      jsm,
      names,
      timeoutMs,
      republish: async (subject, body, msgId, headers) => {
        const bytes = typeof body === 'string' ? encoder.encode(body) : body;
        await publisher.publishRaw(msgId, subject, bytes, { ...headers, 'Nats-Msg-Id': msgId });
      },
    });
    return { nc, js, jsm, publisher, pubAck, dlq, features: serverFeatures(nc.info?.version) };
  }

  private onConnection(conn: Connected, state: ConnectionState): void {
    conn.publisher.connected = state === ConnectionState.connected;
    this.logger.info({ state, outbox: this.outbox.size }, 'NATS connection state changed');
    if (state !== ConnectionState.connected) return;
    for (const c of this.consumers) c.reconnected();
    void conn.publisher.flush();
  }

  private presenceOf: { nc: NatsConnection; presence: ServicePresence } | undefined;

  private required(): Connected {
    if (this.conn) return this.conn;
    throw this.notUsable();
  }

  publish(msg: OutboundMessage): Promise<PublishReceipt> {
    if (!this.conn) return Promise.reject(this.notUsable());
    return this.conn.publisher.publish(msg);
  }

  publishMany(msgs: readonly OutboundMessage[]): Promise<PublishReceipt[]> {
    const conn = this.conn;
    if (!conn) return Promise.reject(this.notUsable());
    return Promise.all(msgs.map((m) => conn.publisher.publish(m)));
  }

  publishRaw(
    type: string,
    body: Uint8Array | string,
    headers?: Record<string, string>,
  ): Promise<PublishReceipt> {
    if (!this.conn) return Promise.reject(this.notUsable());
    const id = headers?.['Nats-Msg-Id'] ?? uuidv7();
    const bytes = typeof body === 'string' ? encoder.encode(body) : body;
    return this.conn.publisher.publishRaw(id, this.names.eventSubject(type), bytes, { ...headers });
  }

  private notUsable(): Error {
    return new ClosedError(
      this.closed || this.closing ? 'the NATS transport is closed' : 'the NATS transport is not started',
    );
  }

  consume(spec: ConsumerSpec, sink: DeliverySink): ConsumerHandle {
    const conn = this.conn;
    if (!conn) {
      const ready = Promise.reject(this.notUsable());
      ready.catch(() => undefined);
      return { ready, stop: async () => undefined };
    }
    const consumer = new NatsConsumer(this.consumerHost(conn), spec, sink);
    this.consumers.add(consumer);
    return consumer;
  }

  private consumerHost(conn: Connected): ConsumerHost {
    return {
      nc: conn.nc,
      jsm: conn.jsm,
      names: this.names,
      options: this.o,
      logger: this.logger,
      termWithReason: conn.features.termWithReason,
      writeDeadLetter: (draft, subject, seq) => conn.dlq.write(draft, subject, seq),
      release: (c) => this.consumers.delete(c),
    };
  }

  /** Health notices on `<prefix>.health.<service>` and `$SRV` discovery over this connection. */
  presence(): ServicePresence {
    const nc = this.required().nc;
    if (this.presenceOf?.nc !== nc) this.presenceOf = { nc, presence: natsPresence(nc, this.o.prefix) };
    return this.presenceOf.presence;
  }

  async keyValue(bucket: string): Promise<KeyValueStore> {
    return openNatsKeyValue(this.required().js, bucket);
  }

  /** A job queue's store on this connection; loaded on first use. */
  async queueStore(name: string, options: QueueStoreOptions): Promise<QueueStore> {
    const conn = this.required();
    const { openNatsQueue } = await import('./queue/store.js');
    const { nc, jsm, dlq } = conn;
    const host = { nc, jsm, options: this.o, names: this.names, logger: this.logger };
    return openNatsQueue({ ...host, writeDeadLetter: (d, s, q) => dlq.write(d, s, q) }, name, options);
  }

  /** Events of `type` the group's durable consumer has yet to deliver. */
  async backlog(type: string, group: string): Promise<number | undefined> {
    const conn = this.required();
    const info = await conn.jsm.consumers
      .info(this.names.eventsStream, this.names.groupConsumer(group, type))
      .catch(() => undefined);
    if (!info) return undefined;
    // Pulled ahead by this process's consumers but not yet handed out: the server counts them as
    // delivered, a person counts them as waiting.
    let waiting = 0;
    for (const c of this.consumers) waiting += c.waitingFor(type, group);
    return info.num_pending + waiting;
  }

  status(): TransportStatus {
    return this.connStatus.snapshot(this.conn?.nc.getServer());
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

  /** Stops pulling, gives the outbox a last chance, then drains the connection. */
  private async shutdown(): Promise<void> {
    const conn = await this.starting?.catch(() => undefined);
    await Promise.all([...this.consumers].map((c) => c.stop()));
    if (conn) {
      if (conn.publisher.connected && this.outbox.size > 0) {
        await Promise.race([conn.publisher.flush(), sleep(this.o.requestTimeoutMs)]);
      }
      conn.publisher.close();
      conn.pubAck.close();
      this.outbox.close();
      await conn.nc.drain().catch(() => conn.nc.close());
      // drain() resolves before the socket is gone; closed() resolves once it is.
      await conn.nc.closed();
    }
    this.conn = undefined;
    this.starting = undefined;
    this.closing = undefined;
    this.closed = true;
    this.connStatus.set(ConnectionState.closed);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
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
