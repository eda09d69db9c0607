import { sleep } from '../../time/sleep.js';
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
import type { Publisher } from './publisher.js';
import { replayRange } from './replay.js';
import { safeToken, type Names } from './toolkit/names.js';
import type { NatsTransportOptions, ResolvedNatsOptions } from './toolkit/options.js';
import { ensureStreams, isNotFound } from './toolkit/provision.js';
import { PubAckPublisher } from './toolkit/pub-ack.js';
import { serverFeatures, type ServerFeatures } from './toolkit/server-features.js';
import { WireHeader } from './toolkit/wire.js';

/** NATS's default `max_payload`, when the server does not say. */
const DEFAULT_MAX_PAYLOAD = 1_048_576;
/** How long a redrive's claim on a dead letter is kept at most. */
const LEASE_BUCKET_TTL_MS = 86_400_000;

/** How often the link checks that JetStream still answers, when no write was confirmed meanwhile. */
const PROBE_MS = 1_000;
const PROBE_TIMEOUT_MS = 1_500;
/** JetStream's error code for a stream that does not exist. */
const STREAM_NOT_FOUND = 10059;

/** What a connection is opened with: the transport's settings and the parts that outlive it. */
export interface ConnectionSetup {
  readonly options: NatsTransportOptions;
  readonly o: ResolvedNatsOptions;
  readonly names: Names;
  readonly outbox: Outbox;
  /** The transport's publisher: it outlives connections, and the link lends it its PubAcks. */
  readonly publisher: Publisher;
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
    throw new UnreachableError(`cannot connect to NATS at ${s.o.servers.join(', ')}`, { cause: err });
  }
}

/** No server answered the connection (as opposed to one that answered but could not serve). */
export class UnreachableError extends TransportError {}

/** One live connection and what hangs off it; the NATS transport delegates to it once started. */
export class NatsLink {
  readonly dlq: NatsDeadLetterStore;
  readonly features: ServerFeatures;
  /** PubAcks for many publishes in flight over one reply subscription. */
  readonly pubAck: PubAckPublisher;
  /** The largest message the server takes. */
  readonly maxPayload: number;
  private readonly consumers = new Set<NatsConsumer>();
  private readonly probe: NodeJS.Timeout;
  private probing = false;
  private presenceOf: ServicePresence | undefined;
  private redriveLeases: Promise<KeyValueStore> | undefined;

  constructor(
    private readonly s: ConnectionSetup,
    readonly nc: NatsConnection,
    readonly jsm: JetStreamManager,
  ) {
    this.pubAck = new PubAckPublisher(nc, s.o.requestTimeoutMs);
    this.maxPayload = nc.info?.max_payload ?? DEFAULT_MAX_PAYLOAD;
    this.dlq = new NatsDeadLetterStore({
      jsm,
      names: s.names,
      logger: s.logger,
      maxPayload: this.maxPayload,
      store: async (subject, body, msgId) => {
        await this.pubAck.publish(subject, body, { [WireHeader.msgId]: msgId });
      },
      republish: async (subject, body, msgId, headers) => {
        const bytes = typeof body === 'string' ? new TextEncoder().encode(body) : body;
        await s.publisher.publishRaw(subject, bytes, msgId, headers);
      },
      provision: () => ensureStreams(jsm, s.names, s.o),
      leases: () => (this.redriveLeases ??= this.openLeases()),
      leaseMs: s.o.redriveLeaseMs,
    });
    this.features = serverFeatures(nc.info?.version);
    this.probe = setInterval(() => void this.probeStore(), PROBE_MS);
    this.probe.unref();
  }

  /**
   * Asks JetStream about the events stream when no write was confirmed lately: a frozen broker or a
   * stream without a leader answers nothing (or an error), and health must say so even when nobody
   * publishes. A confirmed write or an answered probe counts as "storing".
   */
  private async probeStore(): Promise<void> {
    const { status, o, names } = this.s;
    if (this.probing || !status.connected || Date.now() - status.lastStoredAt < PROBE_MS) return;
    this.probing = true;
    try {
      const reply = await this.nc.request(`${o.apiPrefix}.STREAM.INFO.${names.eventsStream}`, undefined, {
        timeout: PROBE_TIMEOUT_MS,
      });
      const error = (reply.json<{ error?: { description?: string; err_code?: number } }>() ?? {}).error;
      status.stored(!error, error && `JetStream: ${error.description ?? 'error'}`);
      // Deleted under a service that only publishes: nothing else would create it again.
      if (error?.err_code === STREAM_NOT_FOUND && o.provision) {
        this.s.logger.warn({ stream: names.eventsStream }, 'events stream was missing; creating it again');
        await ensureStreams(this.jsm, names, o);
      }
    } catch (err) {
      status.stored(false, `JetStream did not answer (${(err as Error).message})`);
    } finally {
      this.probing = false;
    }
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
    this.s.publisher.connected = connected;
    if (!connected) return;
    for (const c of this.consumers) c.reconnected();
    void this.s.publisher.flush();
  }

  presence(): ServicePresence {
    return (this.presenceOf ??= natsPresence(this.nc, this.s.o.prefix));
  }

  /** The bucket redrives claim dead letters in; a claim left by a crashed redrive expires with it. */
  private openLeases(): Promise<KeyValueStore> {
    const bucket = `${safeToken(this.s.o.prefix)}_redrive`;
    const opened = openNatsKeyValue(this.jsm.jetstream(), bucket, {
      replicas: this.s.o.replicas,
      ttlMs: LEASE_BUCKET_TTL_MS,
    });
    opened.catch(() => (this.redriveLeases = undefined));
    return opened;
  }

  /**
   * Opens a bucket; one that is missing is created only when `create` (else MissingStreamError),
   * its entries removed after `ttlMs` when given.
   */
  async keyValue(bucket: string, create: boolean, ttlMs?: number): Promise<KeyValueStore> {
    if (!create) {
      const stream = `KV_${bucket}`;
      const exists = await this.jsm.streams.info(stream).then(
        () => true,
        (err: unknown) => (isNotFound(err) ? false : Promise.reject(err)),
      );
      if (!exists) throw new MissingStreamError(stream, this.s.o.prefix);
    }
    const { replicas } = this.s.o;
    return openNatsKeyValue(this.jsm.jetstream(), bucket, {
      replicas,
      bindOnly: !create,
      ...(ttlMs !== undefined && { ttlMs }),
    });
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
        maxPayload: this.maxPayload,
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
    clearInterval(this.probe);
    await Promise.all([...this.consumers].map((c) => c.stop()));
    const { outbox, o, publisher } = this.s;
    if (publisher.connected && outbox.size > 0) {
      await Promise.race([publisher.flush(), sleep(o.requestTimeoutMs)]);
    }
    publisher.close();
    this.pubAck.close();
    outbox.close();
    await this.nc.drain().catch(() => this.nc.close());
    // drain() resolves before the socket is gone; closed() resolves once it is.
    await this.nc.closed();
  }
}
