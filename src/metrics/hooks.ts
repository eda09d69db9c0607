import type { BreakerLike } from '../health/types.js';

/** How a job ended, for metrics. */
export type JobOutcome = 'completed' | 'failed' | 'dead';

/** A queue's job counts by state (`queue.counts()`). */
export type JobCounts = Readonly<Record<string, number>>;

/**
 * What the job queue reports to metrics; the runtime passes `rt.metrics` where a queue wants one.
 * @example
 * metrics.recordJob('emails', 'completed', 12.5);
 */
export interface JobMetrics {
  /** One job attempt finished: `failed` will retry, `dead` will not. */
  recordJob(queue: string, outcome: JobOutcome, durationMs: number): void;
  /** The queue's current counts by state (waiting, delayed, active, …), as gauges. */
  recordJobCounts(queue: string, counts: JobCounts): void;
}

/**
 * What breakers report to metrics: connect it to the breaker registry's `onCreate` hook.
 * @example
 * const registry = new BreakerRegistry({ onCreate: (b) => rt.metrics.trackBreaker(b) });
 */
export interface BreakerMetrics {
  /** Exposes the breaker's state as a gauge and counts its transitions. @returns a function that stops tracking */
  trackBreaker(breaker: BreakerLike): () => void;
}
