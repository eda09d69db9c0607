import type { JobSink, NewJob, QueueWorker, WorkerSpec } from '../../../queue/store.js';
import { PRIORITIES } from '../../../queue/types.js';
import { isRedrivenJob, jobFromDeadLetter } from '../../../queue/dead-letter.js';
import type { Pull } from '../toolkit/pull.js';
import type { QueueContext } from './context.js';
import { NatsJobLease, type LeaseOwner } from './lease.js';
import { HANDBACK_DELAY_MS, queuePull, type QueueMsg } from './msg.js';
import { ParkedJobs } from './parked.js';
import { GroupDrivers } from './group-drivers.js';
import { finished, groupOf } from './groups.js';
import { enterGroup } from './group-entry.js';
import { dropCancelled } from './cancels.js';
import { decodeWire, JobKind, jobWire, type JobWire } from './wire.js';

/** How long lower priorities wait for a higher level the server says is not empty before asking again. */
const RECHECK_MS = 50;
/** Each level fetches ahead about this much of the worker's recent work (fast jobs: many, slow ones: few). */
const AHEAD_MS = 100;
const MAX_AHEAD = 1_000;

/** One priority level: its pull, the jobs fetched but not started, and the server's backlog. */
interface Level {
  readonly kind: JobKind;
  readonly buffer: QueueMsg[];
  /** Messages the server still holds for this level, as of the last delivery or check. */
  pending: number;
  pull: Pull | undefined;
}

/**
 * One worker of a JetStream queue. Each priority consumer has one long-lived pull whose requests
 * are sized to that level's free fetch-ahead room, and messages arrive synchronously off the
 * connection. The fetch-ahead follows the worker's recent rate (about {@link AHEAD_MS} of work,
 * from 2 × concurrency up to {@link MAX_AHEAD}): a pull request costs the server a pending count
 * over the queue's subjects, so fast jobs need few big requests, while slow jobs must not be
 * hoarded away from other workers (an excess is handed back when the rate drops). The worker starts the highest-priority job it holds; a lower level waits while a
 * higher one still has jobs on the server (the consumer's pending count rides on every delivery;
 * a single timer re-reads it when those jobs went elsewhere). Parked jobs (delayed, backing off)
 * are {@link ParkedJobs}' business. Active and prefetched jobs send `working()` every third of the
 * ack wait.
 */
export class NatsQueueWorker implements QueueWorker, LeaseOwner {
  readonly ready: Promise<void>;
  readonly leases = new Set<NatsJobLease>();
  private readonly levels: Level[];
  private readonly parked: ParkedJobs;
  /** Drives ordered groups: puts each group's head job out, one at a time. */
  private readonly groups: GroupDrivers;
  /** The groups of leases of jobs from ordered groups: their settling wakes the group's driver. */
  private readonly max: number;
  /** Jobs fetched ahead per level: about {@link AHEAD_MS} of work at the recent rate, at least 2 × concurrency. */
  private ahead: number;
  private readonly minAhead: number;
  private settledCount = 0;
  private rateSince = Date.now();
  /**
   * Job messages this worker sent back untried to size its fetch-ahead, by sequence, with their
   * delivery count then: one that comes back with the next count went nowhere else, so it is known
   * to be current and skips the lookup a redelivery otherwise costs (one API request each).
   */
  private readonly handedBack = new Map<number, number>();
  private active = 0;
  /**
   * Messages (by stream sequence) this worker took and has not answered: being checked, run, or
   * having their step stored. The server may send one of them again meanwhile (its ack wait passed
   * while the event loop was blocked; or, right after a pause, a copy close behind the first): that
   * copy is not run. The answer to the message taken answers for both.
   */
  private readonly taken = new Set<number>();
  private stopped = false;
  /** The queue is paused: no pull requests, nothing started, fetched jobs go back. */
  private paused: boolean;
  private stopping: Promise<void> | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  /** Completed jobs whose `done` record and ack go out at the end of this event-loop turn. */
  private finishing: NatsJobLease[] = [];
  private readonly finish = (): void => {
    const list = this.finishing;
    this.finishing = [];
    for (const lease of list) lease.finish();
  };
  private recheck: NodeJS.Timeout | undefined;

  constructor(
    readonly ctx: QueueContext,
    spec: WorkerSpec,
    private readonly sink: JobSink,
    private readonly release: () => void,
    /** Whether job `id` was cancelled lately (a cancel notice): such a job is dropped, not run. */
    private readonly cancelled: (id: string) => boolean = () => false,
  ) {
    this.paused = spec.paused ?? false;
    this.max = Math.max(1, spec.concurrency);
    this.minAhead = Math.min(MAX_AHEAD, Math.max(this.max * 2, 32));
    this.ahead = this.minAhead;
    this.levels = PRIORITIES.map((kind) => ({ kind, buffer: [], pending: 0, pull: undefined }));
    this.parked = new ParkedJobs(ctx, () => this.stopped, cancelled);
    this.groups = new GroupDrivers(ctx, Math.max(16, this.max * 4));
    this.ready = this.open();
  }

  private async open(): Promise<void> {
    await this.refresh(this.levels);
    if (this.stopped) return;
    if (!this.paused) this.startPulls();
    this.parked.start();
    await this.groups.start();
    if (this.stopped) return;
    const beat = Math.max(50, Math.floor(this.ctx.ackWaitMs / 3));
    this.heartbeat = setInterval(() => this.beat(), beat);
    this.heartbeat.unref();
  }

  private startPulls(): void {
    for (const level of this.levels) {
      level.pull ??= queuePull(
        this.ctx,
        level.kind,
        () => this.ahead,
        () => level.buffer.length,
        (m) => this.arrive(level, m),
      );
      level.pull.pull();
    }
  }

  private arrive(level: Level, m: QueueMsg): void {
    if (this.stopped || this.paused) return m.nak(HANDBACK_DELAY_MS);
    level.buffer.push(m);
    level.pending = m.pending;
    this.dispatch();
  }

  /** Starts jobs, highest priority first, while there is room. */
  private dispatch(): void {
    while (this.active < this.max && !this.stopped && !this.paused) {
      const m = this.pick();
      if (!m) return;
      this.start(m);
    }
  }

  private pick(): QueueMsg | undefined {
    const levels = this.levels;
    for (let i = 0; i < levels.length; i++) {
      const level = levels[i]!;
      const m = level.buffer.shift();
      if (m) {
        level.pull?.pull();
        return m;
      }
      if (level.pending > 0) {
        // Lower levels wait; a recheck matters only when one of them has work to wait with (it
        // reads consumer infos, which cost the server a pass over the queue's subjects).
        if (levels.some((l, j) => j > i && (l.buffer.length > 0 || l.pending > 0))) this.scheduleRecheck();
        return undefined;
      }
    }
    return undefined;
  }

  private start(m: QueueMsg): void {
    let job: JobWire;
    let redriven: NewJob | undefined;
    try {
      const value: unknown = decodeWire(m.data);
      redriven = isRedrivenJob(value) ? jobFromDeadLetter(value) : undefined;
      job = redriven ? jobWire(redriven) : (value as JobWire);
    } catch (err) {
      this.ctx.logger.error({ err, subject: m.subject }, 'undecodable job removed from the queue');
      m.term();
      return;
    }
    if (redriven?.group !== undefined) return this.ctx.track(this.regroup(m, redriven, redriven.group));
    if (redriven) void this.dropDeadRecord(job.id, m.seq);
    if (this.taken.has(m.seq)) {
      this.ctx.logger.debug(
        { jobId: job.id, seq: m.seq },
        'a job this worker holds came again; not run twice',
      );
      return;
    }
    // Cancelled after this worker fetched it: the canceller stored its `cancelled` record.
    if (this.cancelled(job.id)) return this.ctx.track(dropCancelled(this.ctx, m, job));
    this.taken.add(m.seq);
    this.active++;
    if (m.delivered > 1 && !redriven && !this.cameBack(m)) void this.takeIfCurrent(m, job);
    else this.hand(m, job);
  }

  private hand(m: QueueMsg, job: JobWire): void {
    const lease = new NatsJobLease(this, m, job);
    this.leases.add(lease);
    this.sink.take(lease);
  }

  /**
   * A redelivered record may be stale: its worker stored the job's next step (a retry, `done`,
   * `dead`) and died before its ack reached the server. Then the job has a newer record, and running
   * this one would repeat a try the job already made; it is acked instead. Only redeliveries pay
   * for the lookup.
   */
  private async takeIfCurrent(m: QueueMsg, job: JobWire): Promise<void> {
    const { jsm, names, logger, due } = this.ctx;
    const [last, parked] = await Promise.all([
      jsm.streams.getMessage(names.stream, { last_by_subj: names.job(job.id) }).catch(() => null),
      // Parked for a retry from this very message (its backoff record is in the parked stream).
      due.find(job.id).then(
        (p) => p?.job.o === m.seq,
        () => false,
      ),
    ]);
    if (!parked && (!last || last.seq <= m.seq)) return this.hand(m, job);
    logger.info({ jobId: job.id, seq: m.seq }, 'a redelivered job record was already settled');
    this.taken.delete(m.seq);
    m.ack();
    this.active--;
    this.dispatch();
  }

  /** Queues a completed job's writes for the end of this turn: one socket write for all of them. */
  finishLater(lease: NatsJobLease): void {
    if (this.finishing.push(lease) === 1) setImmediate(this.finish);
  }

  /**
   * A redriven dead letter is back in its queue: its `dead` record goes, so counts and getJob agree.
   * Only records older than the redriven message: the purge may land after this life's own `dead`.
   */
  private async dropDeadRecord(id: string, seq: number): Promise<void> {
    await this.purgeDeadRecord(id, seq).catch((err: unknown) =>
      this.ctx.logger.warn({ err, jobId: id }, "could not drop a redriven job's dead record"),
    );
  }

  private async purgeDeadRecord(id: string, seq: number): Promise<void> {
    const { jsm, names } = this.ctx;
    await jsm.streams.purge(names.stream, { filter: names.subject(id, JobKind.dead), seq });
  }

  /**
   * A redriven job of an ordered group goes to the end of its group, not to a worker: it runs once
   * the jobs ahead of it finished. Its `dead` record goes first (a driver would take a head with one
   * for finished); the entry is keyed by the redriven message, so a repeat after a crash stores
   * nothing twice. What cannot be stored comes back.
   */
  private async regroup(m: QueueMsg, job: NewJob, group: string): Promise<void> {
    const { jsm, names, logger } = this.ctx;
    try {
      await this.purgeDeadRecord(job.id, m.seq);
      await enterGroup(this.ctx, { ...jobWire(job), r: group }, `redrive:${job.id}:${m.seq}`);
      m.ack();
    } catch (err) {
      logger.warn(
        { err, jobId: job.id, group },
        'could not put a redriven job back in its group; it comes back',
      );
      return m.nak(HANDBACK_DELAY_MS);
    }
    // The redriven message is no job record: left there, getJob and counts would see it taken.
    await jsm.streams.deleteMessage(names.stream, m.seq, false).catch((err: unknown) => {
      if ((err as { code?: number }).code !== 10057)
        logger.warn({ err, jobId: job.id }, 'could not drop a redriven message');
    });
  }

  /** A lease settled: room for the next job. */
  settled(_lease: NatsJobLease): void {
    this.active--;
    // Re-paced every AHEAD_MS, or sooner once a whole fetch-ahead went by: a burst ramps up at once.
    const now = Date.now();
    if (++this.settledCount >= this.ahead || now - this.rateSince >= AHEAD_MS) this.pace(now);
    this.dispatch();
  }

  /** A lease's message is answered: the lease is let go. */
  answered(lease: NatsJobLease): void {
    this.leases.delete(lease);
    this.taken.delete(lease.seq);
    if (this.stopped && this.leases.size === 0) clearInterval(this.heartbeat);
  }

  /** Jobs this worker fetched ahead and has not started: the server counts them as handed out. */
  get buffered(): number {
    let n = 0;
    for (const level of this.levels) n += level.buffer.length;
    return n;
  }

  /** A job's record is stored: a group's head that finished tells its group's driver, wherever it runs. */
  stored(job: JobWire, kind: JobKind): void {
    const group = groupOf(job);
    if (group !== undefined && finished(kind)) this.groups.settled(group, job.id, kind);
  }

  /** @returns true when `m` is one this worker sent back untried and nobody took meanwhile */
  private cameBack(m: QueueMsg): boolean {
    const sent = this.handedBack.get(m.seq);
    if (sent === undefined) return false;
    this.handedBack.delete(m.seq);
    return m.delivered === sent + 1;
  }

  /** Sizes the fetch-ahead to the recent rate: a burst of fast jobs needs big batches, slow jobs few. */
  private pace(now: number): void {
    const elapsed = Math.max(1, now - this.rateSince);
    const perAhead = (this.settledCount * AHEAD_MS) / elapsed;
    this.ahead = Math.min(MAX_AHEAD, Math.max(this.minAhead, Math.round(perAhead)));
    this.settledCount = 0;
    this.rateSince = now;
    // Jobs fetched in a fast spell beyond what slow ones need go back for other workers to take.
    if (this.handedBack.size > MAX_AHEAD * 4) this.handedBack.clear();
    for (const level of this.levels)
      while (level.buffer.length > this.ahead) {
        const m = level.buffer.pop()!;
        this.handedBack.set(m.seq, m.delivered);
        m.nak();
      }
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
    const { jsm, names } = this.ctx;
    await Promise.all(
      levels.map(async (level) => {
        const info = await jsm.consumers.info(names.stream, level.kind).catch(() => undefined);
        if (info) level.pending = info.num_pending;
      }),
    );
  }

  private beat(): void {
    this.pace(Date.now());
    for (const lease of this.leases) lease.working();
    for (const level of this.levels) for (const m of level.buffer) m.working();
  }

  /**
   * Paused: the pulls end (the server drops their requests with their inbox) and fetched jobs go
   * back, so waiting jobs stay waiting on the server; resumed: new pulls. Active jobs run on. A job
   * the server sent as the pull ended still arrives (the pull drains) and goes back too.
   * Idempotent.
   */
  pause(paused: boolean): void {
    if (paused === this.paused) return;
    this.paused = paused;
    if (!paused) {
      if (this.heartbeat && !this.stopped) this.startPulls();
      return;
    }
    for (const level of this.levels) {
      void level.pull?.stop();
      level.pull = undefined;
      for (const m of level.buffer.splice(0)) m.nak(HANDBACK_DELAY_MS);
    }
  }

  /** A cancel notice: the sink aborts the job when it holds it. */
  cancel(id: string): void {
    this.sink.cancel?.(id);
  }

  /** Stops taking jobs; fetched jobs not yet started go back at once. Active leases still settle. Idempotent. */
  stop(): Promise<void> {
    return (this.stopping ??= this.shutdown());
  }

  private async shutdown(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.recheck);
    await this.ready.catch(() => undefined);
    // Active jobs keep their heartbeat until their messages are answered; see answered().
    if (this.leases.size === 0) clearInterval(this.heartbeat);
    await Promise.all([
      ...this.levels.map(async (l) => l.pull?.stop()),
      this.parked.stop(),
      this.groups.stop(),
    ]);
    this.finish();
    for (const level of this.levels) for (const m of level.buffer.splice(0)) m.nak(HANDBACK_DELAY_MS);
    this.release();
  }
}
