/**
 * A token bucket in integer arithmetic: `limit` tokens per `intervalMs`, refilled continuously,
 * holding at most `limit`. One token is `intervalMs` units and `limit` units drip in per ms, so
 * that every figure stays an integer on a millisecond clock and no rounding drifts.
 */
export class TokenBucket {
  /** Units held; a call takes `intervalMs` of them. */
  units: number;
  /** When the bucket was last refilled (clock ms). */
  last: number;
  private readonly capacity: number;

  /**
   * @param limit - tokens per interval, and the most the bucket holds
   * @param intervalMs - the interval
   * @param now - the clock's time; the bucket starts full
   */
  constructor(
    readonly limit: number,
    readonly intervalMs: number,
    now: number,
  ) {
    this.capacity = limit * intervalMs;
    this.units = this.capacity;
    this.last = now;
  }

  /** Takes one token if there is one. @returns whether it did */
  tryTake(now: number): boolean {
    this.refill(now);
    if (this.units < this.intervalMs) return false;
    this.units -= this.intervalMs;
    return true;
  }

  /** @returns ms until `ahead + 1` tokens are in the bucket (0 when they are now) */
  waitMs(now: number, ahead = 0): number {
    this.refill(now);
    const missing = (ahead + 1) * this.intervalMs - this.units;
    return missing <= 0 ? 0 : Math.ceil(missing / this.limit);
  }

  /** Whole tokens in the bucket now. */
  available(now: number): number {
    this.refill(now);
    return Math.floor(this.units / this.intervalMs);
  }

  private refill(now: number): void {
    const elapsed = now - this.last;
    if (elapsed <= 0) return;
    this.last = now;
    // A full interval refills the bucket: capping first keeps the product far from 2^53.
    this.units = Math.min(this.capacity, this.units + Math.min(elapsed, this.intervalMs) * this.limit);
  }
}
