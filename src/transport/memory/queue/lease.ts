import type {
  JobLease,
  JobNotes,
  JobSink,
  NewJob,
  SettleHook,
  StoreCounts,
  StoredJob,
} from '../../../queue/store.js';
import type { FinishedJobState, JobError, StoredJobState } from '../../../queue/types.js';
import type { Competitor } from '../toolkit/competition.js';

/** One job of a memory queue. */
export class Rec {
  state: StoredJobState = 'waiting';
  /** Removed from the queue: a stale entry of a FIFO, skipped when it comes up. */
  gone = false;
  /** In its ordered group's FIFO: a delayed job of a group joins it once due. */
  grouped = false;
  /** When it finished (the clock's ms), for `clean`. */
  finishedAt = 0;
  notes: JobNotes | undefined = undefined;
  /** The lease of the worker holding it, while active. */
  lease: MemoryLease | undefined = undefined;
  attemptsMade = 0;
  dueAt = 0;
  heapIndex = -1;
  error: JobError | undefined = undefined;
  result: unknown = undefined;
  /** The job actor's persisted snapshot from its last failed try. */
  machine: unknown = undefined;
  constructor(readonly job: NewJob) {}
}

/** @returns counts of an empty queue */
export function noJobs(): StoreCounts {
  return { waiting: 0, delayed: 0, active: 0, completed: 0, failed: 0, dead: 0, cancelled: 0 };
}

/** A worker of a memory queue; a paused one has no capacity. */
export interface MemoryWorker extends Competitor {
  readonly sink: JobSink;
  capacity: number;
}

/** What a lease needs from its store. */
export interface LeaseHost {
  now(): number;
  /** Settles a lease; called once per lease. */
  settle(
    worker: MemoryWorker,
    rec: Rec,
    to: FinishedJobState | 'failed' | 'delayed' | 'waiting',
    dueAt?: number,
  ): void;
  deadLetter(rec: Rec, job: StoredJob, error: JobError, reason: 'handler' | 'timeout'): void;
}

/** One job handed to one worker; it settles once. */
export class MemoryLease implements JobLease {
  readonly job: StoredJob;
  private done = false;

  constructor(
    private readonly store: LeaseHost,
    readonly worker: MemoryWorker,
    private readonly rec: Rec,
  ) {
    this.job = {
      ...rec.job,
      attemptsMade: rec.attemptsMade,
      machine: rec.machine,
      ...(rec.notes && { notes: rec.notes }),
    };
  }

  complete(result: unknown, before?: SettleHook): void {
    if (!this.begin()) return;
    this.after(before, () => {
      this.rec.attemptsMade++;
      this.rec.result = result;
      this.rec.error = undefined;
      this.store.settle(this.worker, this.rec, 'completed');
    });
  }

  retry(delayMs: number, error: JobError, machine?: unknown): void {
    if (!this.begin()) return;
    this.rec.attemptsMade++;
    this.rec.error = error;
    this.rec.machine = machine;
    this.store.settle(this.worker, this.rec, 'failed', this.dueAt(delayMs));
  }

  dead(error: JobError, reason: 'handler' | 'timeout', attempts: number, before?: SettleHook): void {
    if (!this.begin()) return;
    this.after(before, () => {
      this.rec.attemptsMade = attempts;
      this.rec.error = error;
      this.store.deadLetter(this.rec, this.job, error, reason);
      this.store.settle(this.worker, this.rec, 'dead');
    });
  }

  cancel(attempts: number, before?: SettleHook): void {
    if (!this.begin()) return;
    this.after(before, () => {
      this.rec.attemptsMade = attempts;
      this.store.settle(this.worker, this.rec, 'cancelled');
    });
  }

  /** Runs `step` at once, or once `before` resolved; a `before` that fails hands the job back. */
  private after(before: SettleHook | undefined, step: () => void): void {
    if (!before) return step();
    before().then(step, () => this.store.settle(this.worker, this.rec, 'waiting'));
  }

  release(): void {
    if (this.begin()) this.store.settle(this.worker, this.rec, 'waiting');
  }

  defer(delayMs: number): void {
    if (this.begin()) this.store.settle(this.worker, this.rec, 'delayed', this.dueAt(delayMs));
  }

  note(notes: JobNotes): void {
    if (!this.done) this.rec.notes = notes;
  }

  working(): void {
    // No ack deadline in memory.
  }

  private dueAt(delayMs: number): number {
    return delayMs > 0 ? this.store.now() + delayMs : 0;
  }

  private begin(): boolean {
    if (this.done) return false;
    this.done = true;
    return true;
  }
}
