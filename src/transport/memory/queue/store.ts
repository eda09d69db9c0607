import type { Clock } from '../../../time/clock.js';
import type {
  JobSink,
  NewJob,
  QueueStore,
  QueueWorker,
  StoreCounts,
  StoredJob,
  WorkerSpec,
} from '../../../queue/store.js';
import type { CloudEvent } from '../../../events/cloudevent.js';
import { jobDeadLetter, jobFromDeadLetter } from '../../../queue/dead-letter.js';
import { DEFAULT_KEEP_FINISHED } from '../../../queue/options.js';
import { notesInfo } from '../../../queue/job-notes.js';
import {
  PRIORITIES,
  type AddedJob,
  type CleanOptions,
  type FinishedJobState,
  type JobError,
  type JobInfo,
  type JobPriority,
  type StoredJobState,
} from '../../../queue/types.js';
import type { DeadLetterDraft } from '../../dead-letters.js';
import { Competition } from '../toolkit/competition.js';
import { Deque, DueHeap } from './heap.js';
import { MemoryGroups } from './groups.js';
import { MemoryLease, noJobs, Rec, type LeaseHost, type MemoryWorker as Worker } from './lease.js';

/** What a memory queue needs from its transport. */
export interface MemoryQueueHost {
  readonly clock: Clock;
  readonly timers: Set<unknown>;
  /** Stores a dead job's dead letter (the memory transport's store). */
  readonly deadLetters: {
    add(draft: DeadLetterDraft, subject: string, seq: undefined, now: number): unknown;
  };
}

const LEVEL: Record<JobPriority, number> = { critical: 0, high: 1, normal: 2, low: 3 };

/** Clean steps per call unless `limit` says. */
const CLEAN_LIMIT = 10_000;

/**
 * A job queue in this process: one FIFO per priority, a heap of delayed and backing-off jobs under
 * one timer, and workers that compete round-robin, each up to its concurrency. Every runtime on
 * the same memory transport shares it.
 */
export class MemoryQueueStore implements QueueStore, LeaseHost {
  private readonly jobs = new Map<string, Rec>();
  private readonly waiting = PRIORITIES.map(() => new Deque<Rec>());
  private readonly due = new DueHeap<Rec>();
  private readonly groups = new MemoryGroups();
  /** Ids of finished jobs, oldest first, per outcome: beyond `keepFinished` the oldest is forgotten. */
  private readonly finished: Record<FinishedJobState, Deque<string>> = {
    completed: new Deque<string>(),
    dead: new Deque<string>(),
    cancelled: new Deque<string>(),
  };
  private readonly workers = new Competition<Worker>((worker) => this.serve(worker));
  private readonly n: StoreCounts = noJobs();
  private timer: unknown = undefined;
  private timerAt = 0;
  private readonly fire = (): void => this.onTimer();

  constructor(
    readonly queue: string,
    private readonly host: MemoryQueueHost,
    private readonly keepFinished = DEFAULT_KEEP_FINISHED,
  ) {}

  async add(jobs: readonly NewJob[]): Promise<AddedJob[]> {
    const now = this.host.clock.now();
    const out: AddedJob[] = [];
    for (const job of jobs) {
      if (job.dedup && this.jobs.has(job.id)) {
        out.push({ id: job.id, duplicate: true });
        continue;
      }
      const rec = new Rec(job);
      this.jobs.set(job.id, rec);
      this.n.waiting++;
      // A delayed job of a group joins its group once due, behind what was added meanwhile.
      if (job.delayMs > 0) this.later(rec, 'delayed', now + job.delayMs);
      else if (job.group !== undefined) this.groups.add(rec, job.group);
      else this.waiting[LEVEL[job.priority]]!.push(rec);
      out.push({ id: job.id });
    }
    this.schedule();
    return out;
  }

  /** A redriven dead letter: the same job back in this queue with fresh attempts; its dead record goes. */
  readmit(event: CloudEvent): void {
    const old = this.jobs.get(event.id);
    if (old?.state === 'dead') {
      this.n.dead--;
      this.jobs.delete(event.id);
    }
    void this.add([jobFromDeadLetter(event)]);
  }

  async getJob(id: string): Promise<JobInfo | undefined> {
    const rec = this.jobs.get(id);
    if (!rec) return undefined;
    const { job } = rec;
    return {
      id: job.id,
      name: job.name,
      data: job.data,
      state: rec.state,
      priority: job.priority,
      attempts: rec.attemptsMade,
      ...(rec.error && { error: rec.error }),
      ...(rec.state === 'completed' && { result: rec.result }),
      ...(job.flow?.parent && { parent: job.flow.parent }),
      ...notesInfo(rec.notes),
    };
  }

  async counts(): Promise<StoreCounts> {
    return { ...this.n };
  }

  work(spec: WorkerSpec, sink: JobSink): QueueWorker {
    const capacity = Math.max(1, spec.concurrency);
    const worker: Worker = { sink, capacity: spec.paused ? 0 : capacity, inFlight: 0 };
    this.workers.join(worker);
    return {
      ready: Promise.resolve(),
      stop: async () => this.workers.leave(worker),
      pause: (paused) => {
        worker.capacity = paused ? 0 : capacity;
        if (!paused) this.schedule();
      },
    };
  }

  async remove(id: string): Promise<boolean> {
    const rec = this.jobs.get(id);
    if (!rec || rec.state === 'active') return false;
    this.detach(rec);
    this.groups.left(rec);
    this.n[rec.state]--;
    this.jobs.delete(id);
    return true;
  }

  async cancel(id: string): Promise<boolean> {
    const rec = this.jobs.get(id);
    if (!rec) return false;
    if (rec.state === 'active') {
      rec.lease?.worker.sink.cancel?.(id);
      return true;
    }
    if (rec.state !== 'waiting' && rec.state !== 'delayed' && rec.state !== 'failed') return false;
    this.detach(rec);
    this.finish(rec, 'cancelled');
    return true;
  }

  async clean({ state, olderThanMs, limit = CLEAN_LIMIT }: CleanOptions): Promise<number> {
    const ids = this.finished[state];
    const before = this.host.clock.now() - olderThanMs;
    let removed = 0;
    for (let id = ids.peek(); id !== undefined && removed < limit; id = ids.peek()) {
      const rec = this.jobs.get(id);
      // Entries of jobs redriven or removed since are stale: dropped on the way.
      if (rec?.state === state && rec.finishedAt > before) break;
      ids.shift();
      if (rec?.state !== state) continue;
      this.jobs.delete(id);
      this.n[state]--;
      removed++;
    }
    return removed;
  }

  /** Takes a job no worker holds out of its FIFO (lazily: the entry is skipped) or the due heap. */
  private detach(rec: Rec): void {
    if (rec.state === 'waiting') rec.gone = true;
    else if (rec.state === 'delayed' || rec.state === 'failed') this.due.remove(rec);
  }

  async close(): Promise<void> {
    // Shared by every queue object of this name on the transport; the transport clears the timer.
  }

  /** Coalesces wake-ups: one pump per microtask. */
  private schedule(): void {
    this.workers.schedule();
  }

  /** Hands `worker` the next job; false when none is waiting. */
  private serve(worker: Worker): boolean {
    const rec = this.next();
    if (!rec) return false;
    this.move(rec, 'active');
    worker.inFlight++;
    rec.lease = new MemoryLease(this, worker, rec);
    worker.sink.take(rec.lease);
    return true;
  }

  private next(): Rec | undefined {
    for (const level of this.waiting)
      for (let rec = level.shift(); rec; rec = level.shift()) if (!rec.gone) return rec;
    return this.groups.take();
  }

  /** A job that is `waiting` again goes back to its FIFO, or readies its group. */
  private enqueue(rec: Rec, front = false): void {
    const group = rec.job.group;
    if (group !== undefined) return rec.grouped ? this.groups.wake(rec) : this.groups.add(rec, group);
    const fifo = this.waiting[LEVEL[rec.job.priority]]!;
    if (front) fifo.unshift(rec);
    else fifo.push(rec);
  }

  private move(rec: Rec, to: StoredJobState): void {
    this.n[rec.state]--;
    this.n[to]++;
    rec.state = to;
  }

  /** Parks a job until `dueAt` (a delay or a retry's backoff). */
  private later(rec: Rec, state: 'delayed' | 'failed', dueAt: number): void {
    this.move(rec, state);
    rec.dueAt = dueAt;
    this.due.push(rec);
    if (this.timer === undefined || dueAt + 1 < this.timerAt) this.arm(dueAt + 1);
  }

  private arm(at: number): void {
    const { clock, timers } = this.host;
    if (this.timer !== undefined) {
      clock.clearTimeout(this.timer);
      timers.delete(this.timer);
    }
    this.timerAt = at;
    this.timer = clock.setTimeout(this.fire, Math.max(0, at - clock.now()));
    timers.add(this.timer);
  }

  private onTimer(): void {
    this.host.timers.delete(this.timer);
    this.timer = undefined;
    // Due once the clock has passed the due millisecond: the clock is whole milliseconds and a
    // timer may fire early by the time its loop turn had already run, so neither is trusted alone.
    const now = this.host.clock.now();
    for (let top = this.due.peek(); top; top = this.due.peek()) {
      if (top.dueAt >= now) {
        this.arm(top.dueAt + 1);
        break;
      }
      this.due.pop();
      this.move(top, 'waiting');
      this.enqueue(top);
    }
    this.schedule();
  }

  /** Settles a lease; called once per lease. */
  settle(worker: Worker, rec: Rec, to: FinishedJobState | 'failed' | 'delayed' | 'waiting', dueAt = 0): void {
    worker.inFlight--;
    rec.lease = undefined;
    if (to === 'waiting') {
      this.move(rec, 'waiting');
      this.enqueue(rec, true);
    } else if (to === 'failed' || to === 'delayed') {
      if (dueAt > this.host.clock.now()) this.later(rec, to, dueAt);
      else {
        this.move(rec, 'waiting');
        this.enqueue(rec);
      }
    } else this.finish(rec, to);
    this.schedule();
  }

  private finish(rec: Rec, to: FinishedJobState): void {
    this.move(rec, to);
    rec.finishedAt = this.host.clock.now();
    this.groups.left(rec);
    this.retain(rec.job.id, to);
  }

  private retain(id: string, outcome: FinishedJobState): void {
    const ids = this.finished[outcome];
    ids.push(id);
    while (ids.length > this.keepFinished) {
      const old = ids.shift()!;
      const rec = this.jobs.get(old);
      // A redriven dead job is live again: only a job still in this outcome is forgotten.
      if (rec?.state !== outcome) continue;
      this.jobs.delete(old);
      this.n[outcome]--;
    }
  }

  now(): number {
    return this.host.clock.now();
  }

  deadLetter(rec: Rec, job: StoredJob, error: JobError, reason: 'handler' | 'timeout'): void {
    const now = this.host.clock.now();
    const draft = jobDeadLetter(this.queue, job, error, reason, rec.attemptsMade, now);
    this.host.deadLetters.add(draft, `queue.${this.queue}`, undefined, now);
  }
}
