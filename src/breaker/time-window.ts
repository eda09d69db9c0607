import { rateTripped, type BreakerStrategy, type RateThresholds } from './strategy.js';

// Per bucket: calls, failures, slow calls.
const FIELDS = 3;

/**
 * Failure rate over the calls of the last `ms` milliseconds, kept in `buckets` buckets of
 * `ms / buckets` each (a call belongs to bucket `floor(now / bucketMs)`; the window is the current
 * bucket and the `buckets - 1` before it). Buckets that age out are subtracted from running sums,
 * so `record` costs O(1) amortised and allocates nothing.
 * @example
 * new TimeWindowStrategy(60_000, 10, { failureThreshold: 0.5, minimumRequests: 10, slowCallRateThreshold: 2 });
 */
export class TimeWindowStrategy implements BreakerStrategy {
  private readonly counts: Uint32Array;
  private readonly bucketMs: number;
  private current = Number.NEGATIVE_INFINITY;
  private calls = 0;
  private failures = 0;
  private slow = 0;

  /**
   * @param ms - the window's length
   * @param buckets - how finely it is cut (>= 1)
   * @param thresholds - when a rate trips it
   */
  constructor(
    readonly ms: number,
    readonly buckets: number,
    private readonly thresholds: RateThresholds,
  ) {
    this.counts = new Uint32Array(buckets * FIELDS);
    this.bucketMs = ms / buckets;
  }

  record(failed: boolean, slow: boolean, now: number): boolean {
    this.advance(now);
    const at = this.slot(this.current);
    const counts = this.counts;
    counts[at]!++;
    this.calls++;
    if (failed) {
      counts[at + 1]!++;
      this.failures++;
    }
    if (slow) {
      counts[at + 2]!++;
      this.slow++;
    }
    return rateTripped(this.thresholds, this.calls, this.failures, this.slow);
  }

  isTripped(): boolean {
    return rateTripped(this.thresholds, this.calls, this.failures, this.slow);
  }

  reset(): void {
    this.counts.fill(0);
    this.current = Number.NEGATIVE_INFINITY;
    this.calls = 0;
    this.failures = 0;
    this.slow = 0;
  }

  failureRate(now: number): number {
    this.advance(now);
    return this.calls === 0 ? 0 : this.failures / this.calls;
  }

  toJSON(): Record<string, unknown> {
    return { kind: 'time', ms: this.ms, calls: this.calls, failures: this.failures, slow: this.slow };
  }

  /** Where a bucket's counters start; buckets before time 0 (a clock that starts there) wrap too. */
  private slot(bucket: number): number {
    const n = this.buckets;
    return (((bucket % n) + n) % n) * FIELDS;
  }

  /** Moves the window to `now`'s bucket, emptying the buckets it passes. A clock going back is ignored. */
  private advance(now: number): void {
    const id = Math.floor(now / this.bucketMs);
    if (id <= this.current) return;
    const steps = Math.min(id - this.current, this.buckets);
    const counts = this.counts;
    for (let bucket = id - steps + 1; bucket <= id; bucket++) {
      const at = this.slot(bucket);
      this.calls -= counts[at]!;
      this.failures -= counts[at + 1]!;
      this.slow -= counts[at + 2]!;
      counts[at] = 0;
      counts[at + 1] = 0;
      counts[at + 2] = 0;
    }
    this.current = id;
  }
}
