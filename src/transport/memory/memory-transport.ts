import { systemClock, type Clock } from '../../time/clock.js';
import { uuidv7 } from '../../events/ids.js';
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
  type ReplayFrom,
  type ReplayRequest,
  type ReplayResult,
  type TransportStatus,
} from '../transport.js';
import { MemoryConsumer, type Member } from './consumer.js';
import { MemoryDeadLetterStore } from './dead-letters.js';
import type { MemoryQueueStore } from './queue/store.js';
import { queueOfGroup } from '../../queue/dead-letter.js';
import { DedupWindow, TypeLog, type StoredMessage } from './stream.js';

/** Options of {@link memoryTransport}. */
export interface MemoryTransportOptions {
  /** Subject prefix, as on NATS: subjects read `<prefix>.events.<type>`. @default 'bulwark' */
  prefix?: string;
  /** Re-publishes of an event id within this window are reported as duplicates. @default 120_000 */
  duplicateWindowMs?: number;
  /** The most event ids remembered for dedup; older ones are forgotten first. @default 100_000 */
  duplicateWindowMaxIds?: number;
  /**
   * Messages kept per type once every consumer has moved past them, for replay and for groups that
   * subscribe later. A message some consumer has yet to see is always kept. @default 1_000
   */
  retainPerType?: number;
  /** @default the system clock */
  clock?: Clock;
}

const EMPTY_HEADERS: Readonly<Record<string, string>> = Object.freeze({});
const CONNECTED: TransportStatus = Object.freeze({
  kind: 'memory',
  connected: true,
  state: 'connected',
  storing: true,
});

/**
 * The embedded transport: JetStream's semantics (at-least-once per group, competing consumers,
 * broadcast, redelivery with delay, dedup window, dead letters, replay) inside one process.
 * Runtimes given the same instance behave like services connected to one broker.
 * @example
 * const bus = memoryTransport();
 * const a = await createRuntime({ service: 'a', events, transport: bus });
 * const b = await createRuntime({ service: 'b', events, transport: bus });
 */
export function memoryTransport(options: MemoryTransportOptions = {}): QueueTransport {
  return new MemoryTransport(options);
}

class MemoryTransport implements QueueTransport {
  readonly kind = 'memory';
  readonly clock: Clock;
  readonly timers = new Set<unknown>();
  readonly deadLetters: MemoryDeadLetterStore;
  private readonly prefix: string;
  private readonly retain: number;
  private readonly dedup: DedupWindow;
  private readonly logs = new Map<string, TypeLog>();
  private readonly consumers = new Map<string, MemoryConsumer>();
  private readonly byType = new Map<string, MemoryConsumer[]>();
  private readonly buckets = new Map<string, Promise<KeyValueStore>>();
  private readonly queues = new Map<string, Promise<QueueStore>>();
  private seq = 0;
  private users = 0;

  constructor(options: MemoryTransportOptions) {
    this.prefix = options.prefix ?? 'bulwark';
    this.retain = options.retainPerType ?? 1_000;
    this.clock = options.clock ?? systemClock;
    this.dedup = new DedupWindow(
      options.duplicateWindowMs ?? 120_000,
      options.duplicateWindowMaxIds ?? 100_000,
    );
    this.deadLetters = new MemoryDeadLetterStore((dl) => this.redrive(dl));
  }

  subject(type: string): string {
    return `${this.prefix}.events.${type}`;
  }

  async start(): Promise<void> {
    this.users++;
  }

  publish(msg: OutboundMessage): Promise<PublishReceipt> {
    return Promise.resolve(
      this.store(msg.type, msg.uniqueId ? undefined : msg.msgId, msg.event, undefined, msg.headers),
    );
  }

  async publishMany(msgs: readonly OutboundMessage[]): Promise<PublishReceipt[]> {
    return msgs.map((m) =>
      this.store(m.type, m.uniqueId ? undefined : m.msgId, m.event, undefined, m.headers),
    );
  }

  async publishRaw(
    type: string,
    body: Uint8Array | string,
    headers?: Readonly<Record<string, string>>,
    msgId?: string,
  ): Promise<PublishReceipt> {
    return this.store(type, msgId ?? uuidv7(), undefined, body, headers);
  }

  /** Appends a message; `msgId` undefined means the id is unique by construction and skips dedup. */
  private store(
    type: string,
    msgId: string | undefined,
    event: StoredMessage['event'],
    body: StoredMessage['body'],
    headers: Readonly<Record<string, string>> | undefined,
  ): PublishReceipt {
    const now = this.clock.now();
    const id = event?.id ?? msgId ?? '';
    const seq = ++this.seq;
    if (msgId !== undefined) {
      const existing = this.dedup.check(msgId, now);
      if (existing !== undefined) {
        this.seq--;
        return { id, seq: existing, duplicate: true };
      }
      this.dedup.remember(msgId, seq, now);
    }
    const log = this.logOf(type);
    log.append({ seq, type, time: now, msgId, event, body, headers: headers ?? EMPTY_HEADERS });
    const consumers = this.byType.get(type);
    if (consumers) for (const c of consumers) c.schedule();
    if (log.end - log.start > this.retain + (this.retain >> 2)) this.trim(log, consumers);
    return { id, seq };
  }

  /** Drops old messages beyond the retention, but never one a consumer has yet to see. */
  private trim(log: TypeLog, consumers: MemoryConsumer[] | undefined): void {
    let min = log.end;
    for (const c of consumers ?? []) min = Math.min(min, c.position);
    log.trim(min, this.retain);
  }

  private logOf(type: string): TypeLog {
    let log = this.logs.get(type);
    if (!log) this.logs.set(type, (log = new TypeLog()));
    return log;
  }

  consume(spec: ConsumerSpec, sink: DeliverySink): ConsumerHandle {
    const broadcast = spec.mode === 'broadcast';
    const key = broadcast ? `broadcast:${spec.instanceId}:${spec.type}` : `group:${spec.group}:${spec.type}`;
    const log = this.logOf(spec.type);
    let consumer = this.consumers.get(key);
    if (!consumer) {
      consumer = new MemoryConsumer(spec.type, log, this, this.startPosition(log, spec.from, broadcast));
      this.consumers.set(key, consumer);
      const list = this.byType.get(spec.type) ?? [];
      list.push(consumer);
      this.byType.set(spec.type, list);
    } else if (spec.from !== undefined && consumer.members.length === 0) {
      consumer.position = this.startPosition(log, spec.from, broadcast);
    }
    const member: Member = { sink, capacity: Math.max(1, spec.maxInFlight), inFlight: 0 };
    consumer.attach(member);
    const owner = consumer;
    let stopped = false;
    return {
      ready: Promise.resolve(),
      stop: async () => {
        if (stopped) return;
        stopped = true;
        owner.detach(member);
        if (broadcast) this.dropConsumer(key, owner);
      },
    };
  }

  private dropConsumer(key: string, consumer: MemoryConsumer): void {
    this.consumers.delete(key);
    const list = this.byType.get(consumer.type);
    if (list) list.splice(list.indexOf(consumer), 1);
  }

  private startPosition(log: TypeLog, from: ReplayFrom | undefined, broadcast: boolean): number {
    const mode = from ?? (broadcast ? 'new' : 'all');
    if (mode === 'all') return log.start;
    if (mode === 'new') return log.end;
    if ('seq' in mode) return log.firstPosition((m) => m.seq >= mode.seq);
    const t = new Date(mode.time).getTime();
    return log.firstPosition((m) => m.time >= t);
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
      this.store(dl.event.type, msgId, undefined, dl.raw, headers);
      return;
    }
    this.store(dl.event.type, msgId, dl.event, undefined, headers);
  }

  private headersOf(dl: DeadLetter): Record<string, string> {
    return dl.event.traceparent ? { traceparent: dl.event.traceparent } : {};
  }

  /** Copies each retained event of the range back onto the log, for `request.group` only. */
  async replay(request: ReplayRequest): Promise<ReplayResult> {
    const log = this.logOf(request.type);
    const since = request.since?.getTime();
    const from = log.firstPosition((m) =>
      since !== undefined ? m.time >= since : m.seq >= (request.fromSeq ?? 0),
    );
    const end = log.end;
    const total = end - from;
    let replayed = 0;
    let firstSeq: number | undefined;
    let lastSeq: number | undefined;
    for (let pos = from; pos < end; pos++) {
      const m = log.at(pos);
      if (!m) continue; // trimmed meanwhile: retention moved past it
      if (request.toSeq !== undefined && m.seq > request.toSeq) break;
      if (!request.dryRun) {
        const headers = { ...m.headers, [REDRIVE_GROUP_HEADER]: request.group };
        this.store(m.type, `${m.msgId ?? m.event?.id ?? m.seq}:replay:${uuidv7()}`, m.event, m.body, headers);
      }
      firstSeq ??= m.seq;
      lastSeq = m.seq;
      request.onProgress?.(++replayed, total);
    }
    return { replayed, ...(firstSeq !== undefined && { firstSeq, lastSeq }) };
  }

  /** Backlog of one group and type: events not yet delivered to any of its instances. */
  backlog(type: string, group: string): Promise<number | undefined> {
    return Promise.resolve(this.consumers.get(`group:${group}:${type}`)?.backlog);
  }

  async keyValue(bucket: string): Promise<KeyValueStore> {
    let kv = this.buckets.get(bucket);
    if (!kv) {
      // Loaded on first use: most runtimes never open a bucket.
      kv = import('./key-value.js').then(({ MemoryKeyValue }) => new MemoryKeyValue(bucket));
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

  status(): TransportStatus {
    return CONNECTED;
  }

  onStatus(): () => void {
    return () => undefined;
  }

  async close(): Promise<void> {
    if (this.users > 0) this.users--;
    if (this.users > 0) return;
    for (const t of this.timers) this.clock.clearTimeout(t);
    this.timers.clear();
  }
}
