import { systemClock, type Clock } from '../../time/clock.js';
import { uuidv7 } from '../../events/ids.js';
import { BackpressureError, MissingStreamError } from '../../errors.js';
import { silentLogger, type Logger } from '../../logging.js';
import { rawBytes } from '../../events/cloudevent.js';
import type { DeadLetter } from '../dead-letters.js';
import type { KeyValueStore } from '../key-value.js';
import type { QueueStore, QueueStoreOptions, QueueTransport } from '../../queue/store.js';
import {
  REDRIVE_GROUP_HEADER,
  type ConsumerHandle,
  type ConsumerSpec,
  type DeliverySink,
  type OutboundMessage,
  type PublishReceipt,
  type ReadRequest,
  type ReplayRequest,
  type ReplayResult,
  type StoredEvent,
  type TransportContext,
  type TransportStatus,
} from '../transport.js';
import { ConsumerTable } from './consumer-table.js';
import { MemoryDeadLetterStore } from './dead-letters.js';
import { MemoryRequests } from './requests.js';
import type { RequestTransport } from '../requests.js';
import type { MemoryQueueStore } from './queue/store.js';
import { queueOfGroup } from '../../queue/dead-letter.js';
import { DedupWindow } from './dedup-window.js';
import { MemoryDelayed } from './delayed.js';
import { memoryLimits, type MemoryLimits, type MemoryTransportOptions } from './options.js';
import { Retention } from './retention.js';
import { rawSize } from './size-estimate.js';
import { replayRange } from './replay.js';
import { readLogs } from './read.js';
import { StatusBoard } from './status-board.js';
import { StoredMessage } from './type-log.js';
import { TypeStream } from './type-stream.js';
import { streamUsage, totalUsage, type MemoryUsage } from './usage.js';

export type { MemoryTransportOptions } from './options.js';
export type { MemoryUsage } from './usage.js';

/** The memory transport: the contract, plus what it holds, for tests and operators. */
export interface MemoryTransport extends QueueTransport {
  /** @returns what is held for one type, or for all types together */
  usage(type?: string): MemoryUsage;
}

const EMPTY_HEADERS: Readonly<Record<string, string>> = Object.freeze({});

/**
 * The embedded transport: JetStream's semantics (at-least-once per group, competing consumers,
 * broadcast, redelivery with delay, dedup window, dead letters, replay) inside one process, in
 * bounded memory (`maxBacklog`, `retainBytes`, `retainPerType`). Runtimes given the same
 * instance behave like services connected to one broker.
 * @example
 * const bus = memoryTransport();
 * const a = await createRuntime({ service: 'a', events, transport: bus });
 * const b = await createRuntime({ service: 'b', events, transport: bus });
 */
export function memoryTransport(options: MemoryTransportOptions = {}): MemoryTransport {
  return new InMemoryTransport(options);
}

class InMemoryTransport implements MemoryTransport {
  readonly kind = 'memory';
  readonly clock: Clock;
  readonly timers = new Set<unknown>();
  readonly deadLetters: MemoryDeadLetterStore;
  private readonly prefix: string;
  private readonly limits: MemoryLimits;
  private readonly retention: Retention;
  private readonly board: StatusBoard;
  private readonly dedup: DedupWindow;
  /** Events published with `delayMs`, until due. */
  private readonly delayed: MemoryDelayed;
  private readonly streams = new Map<string, TypeStream>();
  private readonly table: ConsumerTable;
  private readonly buckets = new Map<string, Promise<KeyValueStore>>();
  private readonly queues = new Map<string, Promise<QueueStore>>();
  private requestsOf: MemoryRequests | undefined;
  private readonly resume = (stream: TypeStream): void => this.resumed(stream);
  private logger: Logger = silentLogger;
  private seq = 0;
  private users = 0;

  constructor(options: MemoryTransportOptions) {
    this.prefix = options.prefix ?? 'bulwark';
    this.clock = options.clock ?? systemClock;
    this.limits = memoryLimits(options);
    this.retention = new Retention(this.limits.retainBytes, this.limits.retainPerType);
    this.board = new StatusBoard(this.clock, () => this.logger);
    this.dedup = new DedupWindow(
      options.duplicateWindowMs ?? 120_000,
      options.duplicateWindowMaxIds ?? 100_000,
    );
    this.deadLetters = new MemoryDeadLetterStore((dl) => this.redrive(dl));
    this.table = new ConsumerTable({
      clock: this.clock,
      deadLetters: this.deadLetters,
      timers: this.timers,
      subject: (type) => this.subject(type),
      streamOf: (type) => this.streamOf(type),
      streams: () => this.streams.values(),
      missed: (type, group, label, missed) => this.board.missed(type, group, label, missed),
    });
    this.delayed = new MemoryDelayed(
      this.clock,
      (m) => void this.storeNow(m),
      () => this.logger,
    );
  }

  subject(type: string): string {
    return `${this.prefix}.events.${type}`;
  }

  /** Counts a user; the first runtime's logger is the one the transport warns on. */
  async start(ctx?: TransportContext): Promise<void> {
    if (this.users++ === 0 && ctx?.logger) this.logger = ctx.logger.child({ transport: 'memory' });
    if (this.users === 1) this.delayed.resume();
  }

  /** @throws {BackpressureError} when a consumer of the type is `maxBacklog` events behind */
  publish(msg: OutboundMessage): Promise<PublishReceipt> {
    try {
      return Promise.resolve(this.storeMessage(msg));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Stores in order; on a refusal, those before it stay stored and the promise rejects. */
  async publishMany(msgs: readonly OutboundMessage[]): Promise<PublishReceipt[]> {
    return msgs.map((m) => this.storeMessage(m));
  }

  /** Stores an event now, or holds it until due when it has a `delayMs`. */
  private storeMessage(msg: OutboundMessage): PublishReceipt {
    if (msg.delayMs !== undefined && msg.delayMs !== 0) return this.delayed.hold(msg, msg.delayMs);
    return this.storeNow(msg);
  }

  private storeNow(msg: OutboundMessage): PublishReceipt {
    return this.store(msg.type, msg.uniqueId ? undefined : msg.msgId, msg.event, undefined, msg.headers);
  }

  async publishRaw(
    type: string,
    body: Uint8Array | string,
    headers?: Readonly<Record<string, string>>,
    msgId?: string,
  ): Promise<PublishReceipt> {
    return this.store(type, msgId ?? uuidv7(), undefined, body, headers);
  }

  /**
   * Appends a message; `msgId` undefined means the id is unique by construction and skips dedup.
   * @throws {BackpressureError} when a consumer of the type is at `maxBacklog` (nothing is stored)
   */
  private store(
    type: string,
    msgId: string | undefined,
    event: StoredMessage['event'],
    body: StoredMessage['body'],
    headers: Readonly<Record<string, string>> | undefined,
  ): PublishReceipt {
    const now = this.clock.now();
    const id = event?.id ?? msgId ?? '';
    if (msgId !== undefined) {
      const existing = this.dedup.check(msgId, now);
      if (existing !== undefined) return { id, seq: existing, duplicate: true };
    }
    const stream = this.streamOf(type);
    if (!stream.accepts()) throw this.refuse(stream);
    const seq = ++this.seq;
    if (msgId !== undefined) this.dedup.remember(msgId, seq, now);
    const h = headers ?? EMPTY_HEADERS;
    stream.append(
      event !== undefined
        ? // A shallow copy: kept past delivery, the publisher's own objects would nearly all survive
          // a scavenge, and V8 would then allocate every event in old space (bench/core.bench.ts).
          new StoredMessage(seq, type, now, msgId, { ...event }, undefined, h, stream.sizes.ofEvent(event, h))
        : new StoredMessage(seq, type, now, msgId, undefined, body, h, rawSize(body ?? '', h)),
    );
    this.table.wake(type);
    return { id, seq };
  }

  private refuse(stream: TypeStream): BackpressureError {
    stream.refusing = true;
    return new BackpressureError(this.board.refused(stream, this.limits), this.limits.maxBacklog);
  }

  private resumed(stream: TypeStream): void {
    stream.refusing = false;
    this.board.accepted(stream.type);
  }

  private streamOf(type: string): TypeStream {
    let stream = this.streams.get(type);
    if (!stream) {
      stream = new TypeStream(type, this.retention, this.limits, this.resume);
      this.streams.set(type, stream);
      this.table.streamAdded(stream);
    }
    return stream;
  }

  /** One consumer per group (or broadcast instance) and type or pattern: see {@link ConsumerTable}. */
  consume(spec: ConsumerSpec, sink: DeliverySink): ConsumerHandle {
    return this.table.consume(spec, sink);
  }

  private async redrive(dl: DeadLetter): Promise<void> {
    // A queue's dead job goes back into its queue, as on JetStream where its subject is the queue's.
    const queue = queueOfGroup(dl.group);
    if (queue !== undefined) {
      const store = (await this.queueStore(queue)) as MemoryQueueStore;
      return store.readmit(dl.event);
    }
    const headers = { ...this.headersOf(dl), [REDRIVE_GROUP_HEADER]: dl.group };
    const msgId = `${dl.event.id}:redrive:${dl.id}:${this.clock.now()}`;
    if (dl.reason === 'decode' && dl.raw !== undefined) {
      this.store(dl.event.type, msgId, undefined, rawBytes(dl.raw, dl.rawEncoding), headers);
      return;
    }
    this.store(dl.event.type, msgId, dl.event, undefined, headers);
  }

  private headersOf(dl: DeadLetter): Record<string, string> {
    return dl.event.traceparent ? { traceparent: dl.event.traceparent } : {};
  }

  /**
   * Copies each retained event of the range back onto the log, for `request.group` only.
   * @throws {BackpressureError} when a consumer of the type reaches `maxBacklog` meanwhile
   */
  async replay(request: ReplayRequest): Promise<ReplayResult> {
    return replayRange(this.streamOf(request.type).log, request, (m, headers) => {
      this.store(m.type, `${m.msgId ?? m.event?.id ?? m.seq}:replay:${uuidv7()}`, m.event, m.body, headers);
    });
  }

  /** Retained events of every type matching the request's pattern, in sequence order. */
  read(request: ReadRequest): AsyncIterable<StoredEvent> {
    const logs = [...this.streams].map(([type, stream]) => [type, stream.log] as const);
    return readLogs(logs, request);
  }

  /** Backlog of one group and type: events not yet delivered to any of its instances. */
  backlog(type: string, group: string): Promise<number | undefined> {
    return Promise.resolve(this.table.backlog(type, group));
  }

  usage(type?: string): MemoryUsage {
    return type === undefined ? totalUsage(this.streams.values()) : streamUsage(this.streams.get(type));
  }

  async keyValue(bucket: string, options?: { readonly create?: boolean }): Promise<KeyValueStore> {
    let kv = this.buckets.get(bucket);
    if (!kv && options?.create === false) throw new MissingStreamError(`bucket ${bucket}`, 'memory');
    if (!kv) {
      // Loaded on first use: most runtimes never open a bucket.
      kv = import('./key-value.js').then(({ MemoryKeyValue }) => new MemoryKeyValue(bucket, this.clock));
      this.buckets.set(bucket, kv);
    }
    return kv;
  }

  /** One store per queue name, shared by every runtime on this transport. */
  async queueStore(name: string, options?: QueueStoreOptions): Promise<QueueStore> {
    let q = this.queues.get(name);
    if (!q) {
      const keep = options?.keepFinished;
      q = import('./queue/store.js').then(({ MemoryQueueStore }) => new MemoryQueueStore(name, this, keep));
      this.queues.set(name, q);
    }
    return q;
  }

  /** Request/reply between the runtimes sharing this transport. */
  requests(): RequestTransport {
    return (this.requestsOf ??= new MemoryRequests(this.clock));
  }

  status(): TransportStatus {
    return this.board.snapshot();
  }

  onStatus(listener: (status: TransportStatus) => void): () => void {
    return this.board.on(listener);
  }

  async close(): Promise<void> {
    if (this.users > 0) this.users--;
    if (this.users > 0) return;
    for (const t of this.timers) this.clock.clearTimeout(t);
    this.timers.clear();
    this.delayed.stop();
  }
}
