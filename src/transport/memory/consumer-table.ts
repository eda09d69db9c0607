import { isPattern, matchesPattern } from '../../events/patterns.js';
import type { ConsumerHandle, ConsumerSpec, DeliverySink } from '../transport.js';
import { MemoryConsumer, type ConsumerHost, type Member } from './consumer.js';
import { MergedCursor, TypeCursor } from './cursors.js';
import type { Missed } from './drop-index.js';
import type { TypeStream } from './type-stream.js';

/** What the consumer table needs from its transport. */
export interface ConsumerTableHost extends ConsumerHost {
  /** The stream of `type`, made when missing. */
  streamOf(type: string): TypeStream;
  /** Every stream made so far. */
  streams(): Iterable<TypeStream>;
  /** Tells once that a new reader asked for events retention had dropped. */
  missed(type: string, group: string, label: string, missed: Missed): void;
}

/**
 * The memory transport's consumers: one per group (or broadcast instance) and type or pattern,
 * found by key when an instance joins, and by stored type when a publish wakes its readers. A
 * pattern's consumer reads every matching stream, including those made after it.
 */
export class ConsumerTable {
  private readonly consumers = new Map<string, MemoryConsumer>();
  private readonly byType = new Map<string, MemoryConsumer[]>();
  private readonly patterns = new Set<MemoryConsumer>();

  constructor(private readonly host: ConsumerTableHost) {}

  /** Wakes the readers of `type`: a message was stored. */
  wake(type: string): void {
    const consumers = this.byType.get(type);
    if (!consumers) return;
    for (const c of consumers) {
      c.source.stored(type);
      c.schedule();
    }
  }

  /** A stream was made: the pattern consumers that match its type read it too, from its start. */
  streamAdded(stream: TypeStream): void {
    for (const c of this.patterns) {
      if (!matchesPattern(c.type, stream.type)) continue;
      (c.source as MergedCursor).add(stream, c.label, stream.log.start);
      this.listen(stream.type, c);
    }
  }

  /** Backlog of one group and type (or pattern): events not yet delivered to any of its instances. */
  backlog(type: string, group: string): number | undefined {
    return this.consumers.get(`group:${group}:${type}`)?.backlog;
  }

  consume(spec: ConsumerSpec, sink: DeliverySink): ConsumerHandle {
    const broadcast = spec.mode === 'broadcast';
    const key = broadcast ? `broadcast:${spec.instanceId}:${spec.type}` : `group:${spec.group}:${spec.type}`;
    let consumer = this.consumers.get(key);
    if (!consumer) {
      consumer = this.create(spec);
      this.consumers.set(key, consumer);
    } else if (spec.from !== undefined && consumer.members.length === 0) {
      this.restart(consumer, spec);
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
        if (broadcast) this.drop(key, owner);
      },
    };
  }

  private create(spec: ConsumerSpec): MemoryConsumer {
    const label =
      spec.mode === 'broadcast'
        ? `broadcast instance "${spec.instanceId}" of group "${spec.group}"`
        : `group "${spec.group}"`;
    if (!isPattern(spec.type)) {
      const stream = this.host.streamOf(spec.type);
      const cursor = new TypeCursor(stream, label, this.startAt(stream, spec, label));
      const consumer = new MemoryConsumer(spec.type, cursor, this.host, label);
      this.listen(spec.type, consumer);
      return consumer;
    }
    const merged = new MergedCursor();
    const consumer = new MemoryConsumer(spec.type, merged, this.host, label);
    for (const stream of this.host.streams()) {
      if (!matchesPattern(spec.type, stream.type)) continue;
      merged.add(stream, label, this.startAt(stream, spec, label));
      this.listen(stream.type, consumer);
    }
    this.patterns.add(consumer);
    return consumer;
  }

  /** A group that resubscribes with a start point while none of its instances reads: a replay. */
  private restart(consumer: MemoryConsumer, spec: ConsumerSpec): void {
    const source = consumer.source;
    const cursors = source instanceof MergedCursor ? source.cursors : [source as TypeCursor];
    for (const c of cursors) c.moveTo(this.startAt(c.stream, spec, consumer.label));
    if (source instanceof MergedCursor) source.refresh();
  }

  private listen(type: string, consumer: MemoryConsumer): void {
    const list = this.byType.get(type);
    if (list) list.push(consumer);
    else this.byType.set(type, [consumer]);
  }

  /** Where a reader of `stream` starts; tells once when retention had dropped events it asked for. */
  private startAt(stream: TypeStream, spec: ConsumerSpec, label: string): number {
    const start = stream.startAt(spec.from ?? (spec.mode === 'broadcast' ? 'new' : 'all'));
    if (start.missed.count > 0) this.host.missed(stream.type, spec.group, label, start.missed);
    return start.position;
  }

  private drop(key: string, consumer: MemoryConsumer): void {
    this.consumers.delete(key);
    this.patterns.delete(consumer);
    for (const [type, list] of this.byType) {
      const i = list.indexOf(consumer);
      if (i < 0) continue;
      list.splice(i, 1);
      if (list.length === 0) this.byType.delete(type);
    }
    consumer.close();
  }
}
