import type { Logger } from '../logging.js';
import type { Clock } from '../time/clock.js';
import type { KeyValueStore } from '../transport/key-value.js';
import { limitGroup, limitKey, StartLog, type QueueLimiterOptions } from './limiter.js';
import type { JobLease, JobSink } from './store.js';

/** Time allowed between handing a job on and its handler starting (a synchronous call). */
const HANDOFF_MS = 10;
/** A failed reservation (the bucket unreachable) is tried again after this. */
const RETRY_MS = 500;

/**
 * A queue's rate limit between its store and its runner: every job the store hands this worker
 * starts only once the shared start log has room. Without `groupKey`, jobs over the limit stay
 * in this worker's hands (they fill its `concurrency`, so the store hands out no more) and one
 * timer wakes it when the window has room: nothing spins. With `groupKey`, a job whose group is
 * over its limit goes back to the store delayed until that group's window has room (no try
 * counted), so it holds no slot and other groups' jobs run on.
 */
export class LimiterGate {
  private readonly log: StartLog;
  private readonly held: JobLease[] = [];
  private reserving = false;
  private timer: unknown = undefined;
  private stopped = false;

  /** @param open - opens the key-value bucket of the start logs (again after a failure) */
  constructor(
    private readonly queue: string,
    private readonly options: QueueLimiterOptions,
    open: () => Promise<KeyValueStore>,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {
    let opened: Promise<KeyValueStore> | undefined;
    const kv = (): Promise<KeyValueStore> =>
      (opened ??= open().catch((err: unknown) => {
        opened = undefined;
        throw err;
      }));
    this.log = new StartLog(kv, clock, options.max, options.durationMs);
  }

  /** @returns a sink that lets `sink` take jobs as the limit allows */
  wrap(sink: JobSink): JobSink {
    return {
      take: (lease) => {
        if (this.options.groupKey !== undefined) void this.takeGrouped(lease, sink);
        else {
          this.held.push(lease);
          void this.pump(sink);
        }
      },
      cancel: (id) => this.cancelHeld(id) || (sink.cancel?.(id) ?? false),
    };
  }

  private async pump(sink: JobSink): Promise<void> {
    if (this.reserving || this.timer !== undefined || this.stopped) return;
    this.reserving = true;
    try {
      while (this.held.length > 0 && !this.stopped) {
        const grant = await this.log.reserve(limitKey(this.queue), this.held.length);
        if (grant.granted === 0) return this.wake(sink, grant.waitMs);
        // A start after its stamp would be logged too early: what is left of a late grant goes unused.
        for (let n = 0; n < grant.granted && this.held.length > 0 && this.inTime(grant.until); n++)
          sink.take(this.held.shift()!);
      }
    } catch (err) {
      this.logger.warn({ err }, 'queue rate limit unreachable; trying again');
      this.wake(sink, RETRY_MS);
    } finally {
      this.reserving = false;
    }
  }

  /** Whether a job handed on now starts (its handler called) before `until`. */
  private inTime(until: number): boolean {
    return this.clock.now() + HANDOFF_MS < until;
  }

  private wake(sink: JobSink, ms: number): void {
    if (this.stopped) return;
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      void this.pump(sink);
    }, ms);
  }

  private async takeGrouped(lease: JobLease, sink: JobSink): Promise<void> {
    const group = limitGroup(lease.job.data, this.options.groupKey!);
    try {
      const grant = await this.log.reserveFor(limitKey(this.queue, group), lease.job.id);
      if (this.stopped) return lease.release();
      if (grant.granted === 1 && this.inTime(grant.until)) return sink.take(lease);
      this.putBack(lease, Math.max(1, grant.waitMs));
    } catch (err) {
      this.logger.warn({ err }, 'queue rate limit unreachable; the job goes back');
      this.putBack(lease, RETRY_MS);
    }
  }

  /** Back to the store until its slot (reserved ahead in the group's log) comes. */
  private putBack(lease: JobLease, delayMs: number): void {
    if (lease.defer) lease.defer(delayMs);
    else lease.release();
  }

  private cancelHeld(id: string): boolean {
    const i = this.held.findIndex((l) => l.job.id === id);
    if (i < 0) return false;
    const [lease] = this.held.splice(i, 1);
    lease!.cancel(lease!.job.attemptsMade);
    return true;
  }

  /** Hands back the jobs still waiting for the window and stops the timer. Idempotent. */
  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    for (const lease of this.held.splice(0)) lease.release();
  }
}
