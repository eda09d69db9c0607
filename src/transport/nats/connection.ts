import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { MissingStreamError, TransportError } from '../../errors.js';
import type { Logger } from '../../logging.js';
import type { QueueStore, QueueStoreOptions } from '../../queue/store.js';
import type { KeyValueStore } from '../key-value.js';
import type { ServicePresence } from '../presence.js';
import type {
  ConsumerHandle,
  ConsumerSpec,
  DeliverySink,
  ReplayRequest,
  ReplayResult,
} from '../transport.js';
import type { ConnectionState, ConnectionStatus } from './connection-status.js';
import { NatsConsumer } from './consumer.js';
import { NatsDeadLetterStore } from './dead-letters.js';
import { natsPresence } from './discovery.js';
import { openNatsKeyValue } from './key-value.js';
import type { Outbox } from './outbox.js';
import { Publisher } from './publisher.js';
import { replayRange } from './replay.js';
import type { Names } from './toolkit/names.js';
import type { NatsTransportOptions, ResolvedNatsOptions } from './toolkit/options.js';
import { ensureStreams } from './toolkit/provision.js';
import { PubAckPublisher } from './toolkit/pub-ack.js';
import { serverFeatures, type ServerFeatures } from './toolkit/server-features.js';

/** What a connection is opened with: the transport's settings and the parts that outlive it. */
export interface ConnectionSetup {
  readonly options: NatsTransportOptions;
  readonly o: ResolvedNatsOptions;
  readonly names: Names;
  readonly outbox: Outbox;
  readonly status: ConnectionStatus;
  readonly logger: Logger;
  readonly service: string;
  /** The connection changed state (after `status` knows); the transport resumes consumers on `connected`. */
  readonly onState: (state: ConnectionState) => void;
}

/**
 * Connects to NATS, provisions the streams and wires everything that talks to the server. This
 * module is the only one of the transport that loads the NATS client, and it is loaded by `start()`:
 * importing bulwark costs nothing of NATS.
 * @throws {MissingStreamError} with `provision: false` when a stream is missing
 * @throws {TransportError} when the server cannot be reached or JetStream is not usable
 */
export async function openConnection(s: ConnectionSetup): Promise<NatsLink> {
  const nc = await dial(s);
  try {
    const { requestTimeoutMs: timeout, domain } = s.o;
    const jsm = await jetstreamManager(nc, { timeout, ...(domain !== undefined && { domain }) });
    if (s.o.provision || s.o.requireStreams) await ensureStreams(jsm, s.names, s.o);
    const link = new NatsLink(s, nc, jsm);
    void s.status.follow(nc, s.onState);
    return link;
  } catch (err) {
    await nc.close();
    if (err instanceof MissingStreamError) throw err;
    throw new TransportError(`NATS JetStream is not usable: ${(err as Error).message}`, { cause: err });
  }
}

async function dial(s: ConnectionSetup): Promise<NatsConnection> {
  const { user, pass, token, authenticator, tls, name } = s.options;
  try {
    return await connect({
      servers: s.o.servers,
      name: name ?? `bulwark:${s.service}`,
      ...(user !== undefined && { user, pass }),
      ...(token !== undefined && { token }),
      ...(authenticator !== undefined && { authenticator }),
      ...(tls !== undefined && { tls }),
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      timeout: s.o.requestTimeoutMs,
    });
  } catch (err) {
    throw new TransportError(`cannot connect to NATS at ${s.o.servers.join(', ')}`, { cause: err });
  }
}

/** One live connection and what hangs off it; the NATS transport delegates to it once started. */
export class NatsLink {
  readonly publisher: Publisher;
  readonly dlq: NatsDeadLetterStore;
  readonly features: ServerFeatures;
  private readonly pubAck: PubAckPublisher;
  private readonly consumers = new Set<NatsConsumer>();
  private presenceOf: ServicePresence | undefined;

  constructor(
    private readonly s: ConnectionSetup,
    readonly nc: NatsConnection,
    readonly jsm: JetStreamManager,
  ) {
    const timeoutMs = s.o.requestTimeoutMs;
    this.pubAck = new PubAckPublisher(nc, timeoutMs);
    this.publisher = new Publisher({
      pubAck: this.pubAck,
      names: s.names,
      outbox: s.outbox,
      logger: s.logger,
      timeoutMs,
      outboxChanged: () => undefined,
    });
    this.dlq = new NatsDeadLetterStore({
      js: jsm.jetstream(),
      jsm,
      names: s.names,
      timeoutMs,
      republish: async (subject, body, msgId, headers) => {
        const bytes = typeof body === 'string' ? new TextEncoder().encode(body) : body;
        await this.publisher.publishRaw(subject, bytes, msgId, headers);
      },
    });
    this.features = serverFeatures(nc.info?.version);
  }

  /** The server this connection is on. */
  server(): string {
    return this.nc.getServer();
  }

  consume(spec: ConsumerSpec, sink: DeliverySink): ConsumerHandle {
    const consumer: NatsConsumer = new NatsConsumer(
      {
        nc: this.nc,
        jsm: this.jsm,
        names: this.s.names,
        options: this.s.o,
        logger: this.s.logger,
        termWithReason: this.features.termWithReason,
        writeDeadLetter: (draft, subject, seq) => this.dlq.write(draft, subject, seq),
        release: () => this.consumers.delete(consumer),
      },
      spec,
      sink,
    );
    this.consumers.add(consumer);
    return consumer;
  }

  /** The connection is back: pull requests made on the old one are gone; the outbox goes out. */
  resumed(connected: boolean): void {
    this.publisher.connected = connected;
    if (!connected) return;
    for (const c of this.consumers) c.reconnected();
    void this.publisher.flush();
  }

  presence(): ServicePresence {
    return (this.presenceOf ??= natsPresence(this.nc, this.s.o.prefix));
  }

  keyValue(bucket: string): Promise<KeyValueStore> {
    return openNatsKeyValue(this.jsm.jetstream(), bucket);
  }

  /** A job queue's store on this connection; its code is loaded on first use. */
  async queueStore(name: string, options: QueueStoreOptions): Promise<QueueStore> {
    const { openNatsQueue } = await import('./queue/store.js');
    const { o: opts, names, logger } = this.s;
    return openNatsQueue(
      {
        nc: this.nc,
        jsm: this.jsm,
        options: opts,
        names,
        logger,
        writeDeadLetter: (d, subject, seq) => this.dlq.write(d, subject, seq),
      },
      name,
      options,
    );
  }

  /** Events of `type` the group's durable consumer has yet to deliver, pulled-ahead ones included. */
  async backlog(type: string, group: string): Promise<number | undefined> {
    const { names } = this.s;
    const info = await this.jsm.consumers
      .info(names.eventsStream, names.groupConsumer(group, type))
      .catch(() => undefined);
    if (!info) return undefined;
    // Pulled ahead by this process's consumers but not yet handed out: the server counts them as
    // delivered, a person counts them as waiting.
    let waiting = 0;
    for (const c of this.consumers) waiting += c.waitingFor(type, group);
    return info.num_pending + waiting;
  }

  replay(request: ReplayRequest): Promise<ReplayResult> {
    return replayRange(this.jsm, this.s.names, request, this.s.o.requestTimeoutMs);
  }

  /** Stops pulling, gives the outbox a last chance, then drains the connection. */
  async close(): Promise<void> {
    await Promise.all([...this.consumers].map((c) => c.stop()));
    const { outbox, o } = this.s;
    if (this.publisher.connected && outbox.size > 0) {
      await Promise.race([this.publisher.flush(), sleep(o.requestTimeoutMs)]);
    }
    this.publisher.close();
    this.pubAck.close();
    outbox.close();
    await this.nc.drain().catch(() => this.nc.close());
    // drain() resolves before the socket is gone; closed() resolves once it is.
    await this.nc.closed();
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
