import type { ChildOutcome } from './flow-store.js';
import type { ChildrenResults } from './flow-types.js';
import type { JobDeathReason, JobLease, JobNotes, SettleHook, StoredJob } from './store.js';
import type { JobError } from './types.js';

/** What a flow lease asks of its queue's flows. */
export interface FlowSteps {
  /** Records a child's outcome in its parent's flow, and adds the parent when it is released. */
  childSettled(key: string, child: string, outcome: ChildOutcome): Promise<void>;
  /** Removes the flow `key` once its parent finished. */
  forget(key: string): Promise<void>;
}

/** Stands for a cancelled child in its parent's record. */
/** What a cancelled child leaves its parent. */
export const CANCELLED: JobError = { name: 'CancelledError', message: 'the job was cancelled' };

/** A lease passed through; settles once, like the lease it wraps. */
abstract class WrappedLease implements JobLease {
  readonly job: StoredJob;
  private done = false;

  constructor(protected readonly inner: JobLease) {
    this.job = inner.job;
  }

  abstract complete(result: unknown): void;
  abstract dead(error: JobError, reason: JobDeathReason, attempts: number): void;
  abstract cancel(attempts: number): void;

  retry(delayMs: number, error: JobError, machine?: unknown): void {
    if (this.begin()) this.inner.retry(delayMs, error, machine);
  }

  release(): void {
    if (this.begin()) this.inner.release();
  }

  note(notes: JobNotes): void {
    if (!this.done) this.inner.note(notes);
  }

  working(): void {
    if (!this.done) this.inner.working();
  }

  childrenResults(): Promise<ChildrenResults> {
    return this.inner.childrenResults?.() ?? Promise.resolve({});
  }

  protected begin(): boolean {
    if (this.done) return false;
    this.done = true;
    return true;
  }
}

/**
 * A child's lease: its outcome (completed, dead or cancelled) is recorded in its parent's flow, and
 * the parent added when that releases it, before the store stores the child's outcome and acks
 * (the store's {@link SettleHook}). A crash in between leaves the child's message unsettled: it
 * comes back, and the repeated steps change nothing. A step that cannot be stored hands the child
 * back (its handler runs again).
 */
export class ChildLease extends WrappedLease {
  constructor(
    inner: JobLease,
    private readonly flows: FlowSteps,
    private readonly key: string,
    private readonly child: string,
  ) {
    super(inner);
  }

  complete(result: unknown): void {
    if (this.begin()) this.inner.complete(result, this.record({ result }));
  }

  dead(error: JobError, reason: JobDeathReason, attempts: number): void {
    if (this.begin()) this.inner.dead(error, reason, attempts, this.record({ error }));
  }

  cancel(attempts: number): void {
    if (this.begin()) this.inner.cancel(attempts, this.record({ error: CANCELLED }));
  }

  private record(outcome: ChildOutcome): SettleHook {
    return () => this.flows.childSettled(this.key, this.child, outcome);
  }
}

/** A released parent's lease: its children's results came with it; its flow goes once it finished. */
export class ParentLease extends WrappedLease {
  constructor(
    inner: JobLease,
    private readonly flows: FlowSteps,
    private readonly key: string,
  ) {
    super(inner);
  }

  override childrenResults(): Promise<ChildrenResults> {
    return Promise.resolve({ ...this.job.flow?.released?.results });
  }

  complete(result: unknown, before?: SettleHook): void {
    if (this.begin()) this.finished(() => this.inner.complete(result, before));
  }

  dead(error: JobError, reason: JobDeathReason, attempts: number, before?: SettleHook): void {
    if (this.begin()) this.finished(() => this.inner.dead(error, reason, attempts, before));
  }

  cancel(attempts: number, before?: SettleHook): void {
    if (this.begin()) this.finished(() => this.inner.cancel(attempts, before));
  }

  private finished(settle: () => void): void {
    settle();
    void this.flows.forget(this.key);
  }
}
