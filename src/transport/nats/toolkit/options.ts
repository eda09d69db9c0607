import type { Authenticator, TlsOptions } from '@nats-io/transport-node';

/** Where the publish outbox keeps events while the broker is unreachable. */
export interface NatsOutboxOptions {
  /** Events held at most; a publish beyond this rejects with `BackpressureError`. @default 10_000 */
  readonly maxMessages?: number;
  /**
   * An append-only file that makes the outbox survive a restart of the process; events accepted
   * before a crash are flushed, in order, by the next transport that opens the same file (their
   * ids deduplicate what the broker had already stored within its duplicate window). Lines are
   * written, not fsync'ed: a killed process loses nothing, a machine that loses power may lose the
   * last ones. @default undefined (memory only)
   */
  readonly file?: string;
}

/** Options of {@link natsTransport}. */
export interface NatsTransportOptions {
  /** @default 'nats://127.0.0.1:4222' */
  readonly servers?: string | readonly string[];
  readonly user?: string;
  readonly pass?: string;
  readonly token?: string;
  /** e.g. `credsAuthenticator(bytes)` for a `.creds` file. */
  readonly authenticator?: Authenticator | Authenticator[];
  /** TLS options as nats.js takes them; `null` turns TLS off. @default undefined (as the server asks) */
  readonly tls?: TlsOptions | null;
  /** Connection name shown by the server. @default 'bulwark:<service>' */
  readonly name?: string;
  /** Subjects read `<prefix>.events.<type>`; streams `<PREFIX>_EVENTS`, `<PREFIX>_DLQ`. @default 'bulwark' */
  readonly prefix?: string;
  /** @default 1 */
  readonly replicas?: number;
  /** How long events are kept, in ms; 0 keeps them until `maxBytes`. @default 0 */
  readonly maxAgeMs?: number;
  /** Bytes kept per stream; -1 for no limit. @default -1 */
  readonly maxBytes?: number;
  /** @default 'file' */
  readonly storage?: 'file' | 'memory';
  /** Re-publishes of an event id within this window are reported as duplicates. @default 120_000 */
  readonly duplicateWindowMs?: number;
  /** How long dead letters are kept, in ms; 0 keeps them. @default 0 */
  readonly deadLetterMaxAgeMs?: number;
  /** Publish outbox for outages. @default { maxMessages: 10_000 } */
  readonly outbox?: NatsOutboxOptions;
  /** How long the broker waits for a settle before it redelivers, unless the subscription says. @default 30_000 */
  readonly ackWaitMs?: number;
  /** Unsettled messages of one group and type across all its instances. @default 20_000 */
  readonly maxAckPending?: number;
  /** How long a broadcast instance's consumer outlives its instance. @default 300_000 */
  readonly broadcastInactiveMs?: number;
  /** Timeout of each JetStream request (publish, management). @default 5_000 */
  readonly requestTimeoutMs?: number;
  /**
   * A publish not confirmed as stored by then rejects with `PublishTimeoutError`, which says whether
   * the event may still be stored (retry with the same id: dedup makes it safe). @default 10_000
   */
  readonly publishTimeoutMs?: number;
  /**
   * Creates the event and dead-letter streams, and a queue's stream and consumers, when missing.
   * `false` only binds to what exists and fails with a TransportError naming what is missing: for
   * tools that must not leave streams behind, and for streams an operator manages.
   * @default true
   */
  readonly provision?: boolean;
  /**
   * With `provision: false`, whether `start()` checks that the event and dead-letter streams exist.
   * `false` connects without them, for tools that read only key-value buckets or discovery.
   * @default true
   */
  readonly requireStreams?: boolean;
  /**
   * When the broker cannot be reached at `start()`, start anyway and keep connecting in the
   * background: health is DEGRADED, publishes wait in the outbox (up to `outbox.maxMessages`), and
   * consumers, queues and discovery start once it answers. `false` makes `start()` fail instead (tools).
   * @default true
   */
  readonly startWithoutBroker?: boolean;
  /**
   * How long a redrive's claim on a dead letter holds without progress before another redrive may
   * take it over (the first one's process died mid-redrive). @default 60_000
   */
  readonly redriveLeaseMs?: number;
  /**
   * The JetStream domain to use (a leaf node's or hub's `jetstream { domain }`): every JetStream
   * request goes to `$JS.<domain>.API`. @default undefined (the local JetStream, `$JS.API`)
   */
  readonly domain?: string;
}

/** Every option with its default applied. */
export interface ResolvedNatsOptions {
  readonly servers: string[];
  readonly prefix: string;
  readonly replicas: number;
  readonly maxAgeMs: number;
  readonly maxBytes: number;
  readonly storage: 'file' | 'memory';
  readonly duplicateWindowMs: number;
  readonly deadLetterMaxAgeMs: number;
  readonly outboxMax: number;
  readonly outboxFile: string | undefined;
  readonly ackWaitMs: number;
  readonly maxAckPending: number;
  readonly broadcastInactiveMs: number;
  readonly requestTimeoutMs: number;
  readonly publishTimeoutMs: number;
  readonly provision: boolean;
  readonly requireStreams: boolean;
  readonly startWithoutBroker: boolean;
  readonly redriveLeaseMs: number;
  readonly domain: string | undefined;
  /** Where JetStream API requests go: `$JS.API`, or `$JS.<domain>.API`. */
  readonly apiPrefix: string;
}

const PREFIX = /^[A-Za-z0-9_-]+$/;

/**
 * Applies defaults and checks what would otherwise fail later on the server.
 * @throws {TypeError} when the prefix is not a single subject token
 */
export function resolveOptions(o: NatsTransportOptions): ResolvedNatsOptions {
  const prefix = o.prefix ?? 'bulwark';
  if (!PREFIX.test(prefix)) throw new TypeError(`prefix "${prefix}" must be one token of [A-Za-z0-9_-]`);
  if (o.domain !== undefined && !PREFIX.test(o.domain))
    throw new TypeError(`domain "${o.domain}" must be one token of [A-Za-z0-9_-]`);
  const servers = o.servers ?? 'nats://127.0.0.1:4222';
  return {
    servers: typeof servers === 'string' ? [servers] : [...servers],
    prefix,
    replicas: o.replicas ?? 1,
    maxAgeMs: o.maxAgeMs ?? 0,
    maxBytes: o.maxBytes ?? -1,
    storage: o.storage ?? 'file',
    duplicateWindowMs: o.duplicateWindowMs ?? 120_000,
    deadLetterMaxAgeMs: o.deadLetterMaxAgeMs ?? 0,
    outboxMax: o.outbox?.maxMessages ?? 10_000,
    outboxFile: o.outbox?.file,
    ackWaitMs: o.ackWaitMs ?? 30_000,
    maxAckPending: o.maxAckPending ?? 20_000,
    broadcastInactiveMs: o.broadcastInactiveMs ?? 300_000,
    requestTimeoutMs: o.requestTimeoutMs ?? 5_000,
    publishTimeoutMs: o.publishTimeoutMs ?? 10_000,
    provision: o.provision ?? true,
    requireStreams: o.requireStreams ?? true,
    startWithoutBroker: o.startWithoutBroker ?? true,
    redriveLeaseMs: o.redriveLeaseMs ?? 60_000,
    domain: o.domain,
    apiPrefix: o.domain ? `$JS.${o.domain}.API` : '$JS.API',
  };
}
