import type { JobLease, JobSink } from '../../src/queue/store.js';
import { within } from '../support/wait.js';

/**
 * A worker's sink for driving a queue store by hand: it keeps every lease it is handed, gives them
 * to the test in order (`next()`), and counts how many are unsettled at once (`peak`).
 */
export class LeaseSink implements JobSink {
  /** Most leases unsettled at once. */
  peak = 0;
  private readonly unsettled = new Set<JobLease>();
  private readonly arrived: JobLease[] = [];
  private readonly waiting: ((lease: JobLease) => void)[] = [];

  take(lease: JobLease): void {
    const tracked = this.track(lease);
    const waiter = this.waiting.shift();
    if (waiter) waiter(tracked);
    else this.arrived.push(tracked);
  }

  /**
   * @returns the next lease the store hands this worker
   * @throws an Error naming `what` when none comes within `timeoutMs`
   */
  next(what = 'a lease', timeoutMs = 10_000): Promise<JobLease> {
    const ready = this.arrived.shift();
    if (ready) return Promise.resolve(ready);
    return within(new Promise<JobLease>((resolve) => this.waiting.push(resolve)), { what, timeoutMs });
  }

  /** Hands back every lease the test left unsettled, so that a closing store holds none. */
  releaseAll(): void {
    for (const lease of [...this.unsettled]) lease.release();
  }

  /** The lease as the test sees it: settling it (once) takes it off the unsettled count. */
  private track(lease: JobLease): JobLease {
    this.unsettled.add(lease);
    this.peak = Math.max(this.peak, this.unsettled.size);
    const settle = (how: () => void) => {
      this.unsettled.delete(lease);
      how();
    };
    return {
      job: lease.job,
      complete: (result) => settle(() => lease.complete(result)),
      retry: (delayMs, error) => settle(() => lease.retry(delayMs, error)),
      dead: (error, reason, attempts) => settle(() => lease.dead(error, reason, attempts)),
      release: () => settle(() => lease.release()),
      cancel: (attempts) => settle(() => lease.cancel(attempts)),
      note: (notes) => lease.note(notes),
      working: () => lease.working(),
    };
  }
}
