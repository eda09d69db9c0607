import type { ConsumerMessages, JsMsg } from '@nats-io/jetstream';
import type { JobSink, QueueWorker, WorkerSpec } from '../../queue/backend.js';
import { PRIORITIES } from '../../queue/types.js';
import type { NatsQueueHost } from './queue.js';
import { NatsJobLease } from './queue-lease.js';
import { decodeWire, encodeWire, JobKind, type JobWire, type QueueNames } from './queue-wire.js';

/** What a worker needs from its queue. */
export interface WorkerHost extends NatsQueueHost {
  readonly names: QueueNames;
  readonly queue: string;
  readonly ackWaitMs: number;
}

/** Pull requests expire after this; the client re-pulls. */
const PULL_EXPIRES_MS = 2_000;
/**
 * Jobs handed back on close return after this: a closed worker's pull requests stay on the server
 * until they expire, and a job sent back at once could be delivered to one of them (and then sit
 * until the ack wait).
 */
export const HANDBACK_DELAY_MS = PULL_EXPIRES_MS + 250;
/** How long lower priorities wait for a higher level the server says is not empty before asking again. */
const RECHECK_MS = 100;
/** Parked jobs this close to due are promoted at once rather than sent back for a few ms. */
const DUE_SLACK_MS = 2;

/** One priority level: its consumer's messages, those fetched but not started, and the server's backlog. */
interface Level {
  readonly kind: JobKind;
  readonly buffer: JsMsg[];
  /** Messages the server still holds for this level, as of the last delivery or check. */
  pending: number;
  messages: ConsumerMessages | undefined;
  wake: (() => void) | undefined;
}

/**
 * One worker of a JetStream queue. It reads the four priority consumers with long-lived
 * `consume()` loops, each fetching at most `concurrency` ahead, and starts the highest-priority
 * job it holds; a lower level waits while a higher one still has jobs on the server. Two more loops
 * take parked jobs (delayed, backing off): one not yet due goes back with `nak(remaining)` once —
 * that is no try, since tries are counted in the record — and a due one is republished to its
 * priority and acked. Active jobs send `working()` every third of the ack wait.
 */
export class NatsQueueWorker implements QueueWorker {
  readonly ready: Promise<void>;
  readonly leases = new Set<NatsJobLease>();
  private readonly levels: Level[];
  private readonly parked: ConsumerMessages[] = [];
  private readonly max: number;
  /** Jobs fetched ahead per level: enough to keep a pull in flight while jobs run. */
  private readonly prefetch: number;
  private active = 0;
  private stopped = false;
  private stopping: Promise<void> | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private recheck: NodeJS.Timeout | undefined;

  constructor(
    readonly host: WorkerHost,
    spec: WorkerSpec,
    private readonly sink: JobSink,
    private readonly release: () => void,
  ) {
    this.max = Math.max(1, spec.concurrency);
    this.prefetch = Math.min(1_000, Math.max(this.max * 2, 32));
    this.levels = PRIORITIES.map((kind) => ({
      kind,
      buffer: [],
      pending: 0,
      messages: undefined,
      wake: undefined,
    }));
    this.ready = this.open();
  }

  private async open(): Promise<void> {
    await this.refresh(this.levels);
    await Promise.all([
      ...this.levels.map(async (level) => {
        level.messages = await this.consume(level.kind, this.prefetch);
        void this.levelLoop(level, level.messages);
      }),
      ...[JobKind.delayed, JobKind.retry].map(async (kind) => {
        const messages = await this.consume(kind, 100);
        this.parked.push(messages);
        void this.parkedLoop(messages);
      }),
    ]);
    const beat = Math.max(50, Math.floor(this.host.ackWaitMs / 3));
    this.heartbeat = setInterval(() => this.beat(), beat);
    this.heartbeat.unref();
    if (this.stopped) await this.stop();
  }

  private async consume(kind: JobKind, max: number): Promise<ConsumerMessages> {
    const consumer = await this.host.js.consumers.get(this.host.names.stream, kind);
    return consumer.consume({ max_messages: max, expires: PULL_EXPIRES_MS });
  }

  private async levelLoop(level: Level, messages: ConsumerMessages): Promise<void> {
    try {
      for await (const m of messages) {
        if (this.stopped) {
          m.nak(HANDBACK_DELAY_MS);
          continue;
        }
        level.buffer.push(m);
        level.pending = m.info.pending;
        this.dispatch();
        if (level.buffer.length >= this.prefetch) await new Promise<void>((r) => (level.wake = r));
      }
    } catch (err) {
      if (!this.stopped) this.host.logger.warn({ err, queue: this.host.queue }, 'queue consumer ended');
    }
  }

  /** Starts jobs, highest priority first, while there is room. */
  private dispatch(): void {
    while (this.active < this.max && !this.stopped) {
      const m = this.pick();
      if (!m) return;
      this.start(m);
    }
  }

  private pick(): JsMsg | undefined {
    for (const level of this.levels) {
      const m = level.buffer.shift();
      if (m) {
        const wake = level.wake;
        level.wake = undefined;
        wake?.();
        return m;
      }
      if (level.pending > 0) {
        this.scheduleRecheck();
        return undefined;
      }
    }
    return undefined;
  }

  private start(m: JsMsg): void {
    let job: JobWire;
    try {
      job = decodeWire<JobWire>(m.data);
    } catch (err) {
      this.host.logger.error({ err, subject: m.subject }, 'undecodable job removed from the queue');
      m.term();
      return;
    }
    this.active++;
    const lease = new NatsJobLease(this, m, job);
    this.leases.add(lease);
    this.sink.take(lease);
  }

  /** A lease settled: room for the next job. */
  settled(lease: NatsJobLease): void {
    this.leases.delete(lease);
    this.active--;
    if (this.stopped && this.leases.size === 0) clearInterval(this.heartbeat);
    this.dispatch();
  }

  /** A higher level looked non-empty but nothing came: other workers may have taken it; ask again. */
  private scheduleRecheck(): void {
    if (this.recheck || this.stopped) return;
    this.recheck = setTimeout(() => {
      void this.refresh(this.levels.filter((l) => l.buffer.length === 0 && l.pending > 0)).then(() => {
        this.recheck = undefined;
        this.dispatch();
      });
    }, RECHECK_MS);
    this.recheck.unref();
  }

  private async refresh(levels: Level[]): Promise<void> {
    const { jsm, names } = this.host;
    await Promise.all(
      levels.map(async (level) => {
        const info = await jsm.consumers.info(names.stream, level.kind).catch(() => undefined);
        if (info) level.pending = info.num_pending;
      }),
    );
  }

  private async parkedLoop(messages: ConsumerMessages): Promise<void> {
    try {
      for await (const m of messages) {
        if (this.stopped) m.nak(HANDBACK_DELAY_MS);
        else void this.unpark(m);
      }
    } catch (err) {
      if (!this.stopped) this.host.logger.warn({ err, queue: this.host.queue }, 'parked-job consumer ended');
    }
  }

  /** Sends a parked job back until due (once: the server redelivers it then), or promotes it. */
  private async unpark(m: JsMsg): Promise<void> {
    let job: JobWire;
    try {
      job = decodeWire<JobWire>(m.data);
    } catch {
      m.term();
      return;
    }
    const remaining = (job.due ?? 0) - Date.now();
    if (remaining > DUE_SLACK_MS) return m.nak(remaining);
    try {
      const { due: _due, ...rest } = job;
      await this.host.js.publish(this.host.names.subject(job.id, job.p), encodeWire(rest), {
        msgID: `due:${job.id}:${job.a}:${m.info.streamSequence}`,
        timeout: this.host.options.requestTimeoutMs,
      });
      m.ack();
    } catch (err) {
      this.host.logger.warn({ err, jobId: job.id }, 'could not promote a due job; trying again');
      m.nak(1_000);
    }
  }

  private beat(): void {
    for (const lease of this.leases) lease.working();
    for (const level of this.levels) for (const m of level.buffer) m.working();
  }

  /** Stops taking jobs; fetched jobs not yet started go back at once. Active leases still settle. Idempotent. */
  stop(): Promise<void> {
    return (this.stopping ??= this.shutdown());
  }

  private async shutdown(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.recheck);
    await this.ready.catch(() => undefined);
    // Active jobs keep their heartbeat until they settle; see settled().
    if (this.leases.size === 0) clearInterval(this.heartbeat);
    const all = [...this.levels.map((l) => l.messages), ...this.parked];
    const closed = Promise.all(all.map(async (m) => m?.close().catch(() => undefined)));
    for (const level of this.levels) {
      for (const m of level.buffer.splice(0)) m.nak(HANDBACK_DELAY_MS);
      level.wake?.();
    }
    await closed;
    this.release();
  }
}
