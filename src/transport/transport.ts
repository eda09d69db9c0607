import type { CloudEvent } from '../events/cloudevent.js';
import type { Logger } from '../logging.js';
import type { DeadLetterStore, DeadLetterDraft } from './dead-letters.js';
import type { KeyValueStore } from './key-value.js';
import type { ServicePresence } from './presence.js';
import type { RequestTransport } from './requests.js';

/** Which instances receive an event: one per group (`'group'`), or every instance (`'broadcast'`). */
export type DeliveryMode = 'group' | 'broadcast';

/** Where a new subscription starts reading: the whole retained stream (default), new events, a sequence or a time. */
export type ReplayFrom = 'all' | 'new' | { readonly seq: number } | { readonly time: Date | string | number };

/** Header that restricts a redriven event to the group it was dead-lettered from. */
export const REDRIVE_GROUP_HEADER = 'bulwark-redrive-group';
/** Header carrying the W3C trace context next to the CloudEvents extension. */
export const TRACEPARENT_HEADER = 'traceparent';

/** An event on its way to the broker. */
export interface OutboundMessage {
  /** The event type; the subject is derived from it. */
  readonly type: string;
  /** The CloudEvent; transports that cross a wire encode it as structured JSON. */
  readonly event: CloudEvent;
  /** Dedup key within the transport's window; the event id unless redriving. */
  readonly msgId: string;
  /**
   * True when the runtime generated the id (a fresh UUID v7): it cannot collide, so a transport
   * may skip its own dedup bookkeeping. Caller-supplied ids are always checked.
   */
  readonly uniqueId?: boolean;
  readonly headers?: Readonly<Record<string, string>> | undefined;
  /**
   * Delivered no earlier than this many ms after the publish (measured on the transport's clock).
   * The transport stores the event durably before `publish` resolves and holds it without any
   * unacknowledged delivery: NATS keeps it on the delay stream until a mover republishes it, memory
   * on a timer heap. Absent or 0: delivered at once.
   */
  readonly delayMs?: number;
}

/** What `publish` resolves with once the broker has stored the event. */
export interface PublishReceipt {
  readonly id: string;
  readonly seq?: number;
  /** True when an event with the same dedup key was already stored; nothing new was stored. */
  readonly duplicate?: boolean;
}

/** One delivery of one message to one subscriber instance. */
export interface Delivery {
  readonly type: string;
  readonly subject: string;
  /** 1-based: the broker's delivery count for this message in this group. */
  readonly attempt: number;
  /** Stream sequence, where the transport has one. */
  readonly seq: number | undefined;
  /** The key the broker deduplicated the message under (the event id, unless published raw or redriven). */
  readonly msgId: string | undefined;
  readonly headers: Readonly<Record<string, string>>;
  /** One header, without building the whole record when the transport can avoid it. */
  header(name: string): string | undefined;
  /** The decoded CloudEvent when the transport already holds one (the memory transport); else undefined. */
  readonly event: CloudEvent | undefined;
  /** The raw bytes when `event` is undefined. */
  readonly body: Uint8Array | string | undefined;
  /** Done: the message leaves this group's live path. */
  ack(): void;
  /** Failed: deliver it again (attempt + 1) after `delayMs`. */
  nak(delayMs: number): void;
  /** Still working: extends the broker's ack deadline. */
  working(): void;
  /** Stores a dead letter durably, then removes the message from the live path. */
  deadLetter(draft: DeadLetterDraft): Promise<void>;
  /**
   * Keeps this delivery's concurrency slot taken after it settles, until the returned function is
   * called: a handler that timed out but still runs must not make room for another.
   */
  hold(): () => void;
}

/** Receives deliveries and consumer failures; called synchronously by the transport. */
export interface DeliverySink {
  deliver(delivery: Delivery): void;
  /** The consumer failed and stopped; the subscriber decides whether and when to consume again. */
  failed(error: Error): void;
}

/** What a subscriber asks the transport for. */
export interface ConsumerSpec {
  /** An event type, or a pattern (`order.*`, `order.>`; see `events/patterns.ts`): one consumer for every matching type. */
  readonly type: string;
  readonly group: string;
  readonly mode: DeliveryMode;
  /** Unsettled deliveries this instance may hold at once. */
  readonly maxInFlight: number;
  /** How long the broker waits for a settle before it redelivers (crashed consumers). @default 30_000 */
  readonly ackWaitMs?: number;
  /** @default 'all' for a new group, where it left off for an existing one */
  readonly from?: ReplayFrom;
  /** Identifies this instance (broadcast consumers are per instance). */
  readonly instanceId: string;
}

/** A running consumer of one subscriber instance. */
export interface ConsumerHandle {
  /** Resolves once messages flow; rejects when the consumer cannot start. */
  readonly ready: Promise<void>;
  /** Stops pulling. Deliveries already handed out can still be settled. Idempotent. */
  stop(): Promise<void>;
}

/** A range of one event type's stored events to deliver again, to one group. */
export interface ReplayRequest {
  /** The event type to replay. */
  readonly type: string;
  /** Only this group handles the replayed events; the others skip them. */
  readonly group: string;
  /** First stream sequence to replay (inclusive). */
  readonly fromSeq?: number;
  /** Last stream sequence to replay (inclusive). @default the last one stored when the replay starts */
  readonly toSeq?: number;
  /** Replay events stored since this time (instead of `fromSeq`). */
  readonly since?: Date;
  /** Count only, republish nothing. @default false */
  readonly dryRun?: boolean;
  /** Called after each event, with how many are done and how many there are at most. */
  readonly onProgress?: (done: number, total: number) => void;
}

/** What a replay did. */
export interface ReplayResult {
  readonly replayed: number;
  readonly firstSeq?: number;
  readonly lastSeq?: number;
}

/** A range of stored history to read without a consumer group (`rt.events.read`). */
export interface ReadRequest {
  /** An event type or a pattern (`order.*`). */
  readonly pattern: string;
  /** First stream sequence (inclusive). @default the oldest retained */
  readonly fromSeq?: number;
  /** Events stored at or after this time (instead of `fromSeq`). */
  readonly fromTime?: Date;
  /** Last stream sequence (inclusive). @default the last one stored when the read starts */
  readonly toSeq?: number;
  /** Events stored at or before this time. */
  readonly toTime?: Date;
  /** At most this many events. */
  readonly limit?: number;
  /** Stops the read early; the iterator then ends. */
  readonly signal?: AbortSignal;
}

/** One stored event as history returns it; `event` or `body` is set, as on a {@link Delivery}. */
export interface StoredEvent {
  readonly seq: number;
  readonly type: string;
  /** When the broker stored it (ms since the epoch). */
  readonly storedAt: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly event: CloudEvent | undefined;
  readonly body: Uint8Array | string | undefined;
}

/** Connection state, for health and metrics. */
export interface TransportStatus {
  readonly kind: string;
  readonly connected: boolean;
  /** e.g. 'reconnecting', 'closed'; free text for people. */
  readonly state: string;
  readonly server?: string;
  /** Publishes waiting in the outbox for the broker to come back. */
  readonly outboxSize?: number;
  /**
   * Whether publishes are being stored now, as users feel it: false while the broker does not
   * answer, refuses to store (no stream leader, no space), or the transport refuses publishes for
   * backpressure. A connected socket is not enough.
   */
  readonly storing: boolean;
  /** Since when publishes have not been stored (the transport's clock, ms); undefined while they are. */
  readonly notStoringSince?: number;
  /** How long publishes have not been stored, measured on the transport's own clock. */
  readonly notStoringForMs?: number;
  /** Why publishes are not being stored, for people. */
  readonly reason?: string;
  /** Things an operator should know that do not stop publishing (a group that missed retained events). */
  readonly notices?: readonly string[];
}

/** What the runtime hands a transport when it starts. */
export interface TransportContext {
  readonly service: string;
  readonly logger: Logger;
}

/**
 * The broker behind a runtime. The memory transport is the embedded default; the NATS JetStream
 * transport gives the same semantics durability. Both pass one shared end-to-end suite.
 */
export interface Transport {
  readonly kind: string;
  /** Connects and provisions; idempotent, and shared by every runtime given this instance. */
  start(ctx: TransportContext): Promise<void>;
  /** @throws {BackpressureError} when the broker is unreachable and the outbox is full */
  publish(msg: OutboundMessage): Promise<PublishReceipt>;
  /** Pipelined; resolves in order once every message is stored. */
  publishMany(msgs: readonly OutboundMessage[]): Promise<PublishReceipt[]>;
  /**
   * Publishes bytes as they are to an event type's subject: interop and tests of bad input.
   * @param msgId - the dedup key (and the receipt's id) @default a fresh UUID v7
   */
  publishRaw(
    type: string,
    body: Uint8Array | string,
    headers?: Readonly<Record<string, string>>,
    msgId?: string,
  ): Promise<PublishReceipt>;
  consume(spec: ConsumerSpec, sink: DeliverySink): ConsumerHandle;
  readonly deadLetters: DeadLetterStore;
  /**
   * A key-value bucket (shared breaker state, job state), created when missing; with
   * `create: false` (the default of a NATS transport with `provision: false`) a missing bucket
   * rejects with `MissingStreamError` and nothing is created.
   */
  keyValue(
    bucket: string,
    options?: {
      readonly create?: boolean;
      /** Entries older than this are removed, when the bucket is created (NATS `max_age`). @default none */
      readonly ttlMs?: number;
    },
  ): Promise<KeyValueStore>;
  /**
   * Optional: the prefix this transport names its streams and buckets with (NATS: its `prefix`);
   * shared breakers keep their state in `<namespace>_breakers`. Absent where names are not shared.
   */
  readonly namespace?: string;
  status(): TransportStatus;
  /**
   * Optional: how many events of `type` wait for `group`, not yet delivered to any of its instances
   * (the dashboard's backlog); undefined when the group has no consumer.
   */
  backlog?(type: string, group: string): Promise<number | undefined>;
  /**
   * Optional: publishes each stored event of a range again, restricted to one group (the redrive
   * header); events stored after the replay starts are not replayed. Absent where nothing is retained.
   */
  replay?(request: ReplayRequest): Promise<ReplayResult>;
  /**
   * Optional: stored events in sequence order, read without a consumer (NATS: an ordered consumer
   * or direct gets; memory: the retained log). Absent where nothing is retained.
   */
  read?(request: ReadRequest): AsyncIterable<StoredEvent>;
  /** @returns a function that removes the listener */
  onStatus(listener: (status: TransportStatus) => void): () => void;
  /**
   * Optional: health notices and service discovery (on NATS: `<prefix>.health.<service>` and the
   * `$SRV` micro protocol). Transports without such a place omit it. Call after `start()`.
   */
  presence?(): ServicePresence;
  /**
   * Optional: request/reply endpoints (on NATS the micro protocol, listed in `$SRV` discovery);
   * see `requests.ts` for what an implementation owes. Call after `start()`.
   */
  requests?(): RequestTransport;
  /** Called by each runtime that used it; the last one closes it. Idempotent per runtime. */
  close(): Promise<void>;
}
