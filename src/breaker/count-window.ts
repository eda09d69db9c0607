import { rateTripped, type BreakerStrategy, type RateThresholds } from './strategy.js';

/**
 * Failure rate over the last `size` calls, kept as two ring bitsets (failed, slow) in one small
 * Int32Array plus running sums: `record` is O(1), allocates nothing, and a window of 100 calls
 * takes 32 bytes.
 * @example
 * new CountWindowStrategy(100, { failureThreshold: 0.5, minimumRequests: 10, slowCallRateThreshold: 2 });
 */
export class CountWindowStrategy implements BreakerStrategy {
  /** Words 0..words-1: failed bits; words..2*words-1: slow bits. */
  private readonly bits: Int32Array;
  private readonly words: number;
  private readonly thresholds: RateThresholds;
  private next = 0;
  private calls = 0;
  private failures = 0;
  private slow = 0;

  /**
   * @param size - calls the window remembers (>= 1)
   * @param thresholds - `minimumRequests` above `size` is lowered to `size`, or it could never trip
   */
  constructor(
    readonly size: number,
    thresholds: RateThresholds,
  ) {
    this.words = (size + 31) >>> 5;
    this.bits = new Int32Array(this.words * 2);
    this.thresholds =
      thresholds.minimumRequests > size ? { ...thresholds, minimumRequests: size } : thresholds;
  }

  record(failed: boolean, slow: boolean): boolean {
    const bits = this.bits;
    const i = this.next;
    const word = i >>> 5;
    const slowWord = word + this.words;
    const mask = 1 << (i & 31);
    if (this.calls === this.size) {
      if ((bits[word]! & mask) !== 0) this.failures--;
      if ((bits[slowWord]! & mask) !== 0) this.slow--;
    } else {
      this.calls++;
    }
    if (failed) {
      bits[word]! |= mask;
      this.failures++;
    } else bits[word]! &= ~mask;
    if (slow) {
      bits[slowWord]! |= mask;
      this.slow++;
    } else bits[slowWord]! &= ~mask;
    this.next = i + 1 === this.size ? 0 : i + 1;
    return rateTripped(this.thresholds, this.calls, this.failures, this.slow);
  }

  isTripped(): boolean {
    return rateTripped(this.thresholds, this.calls, this.failures, this.slow);
  }

  reset(): void {
    this.bits.fill(0);
    this.next = 0;
    this.calls = 0;
    this.failures = 0;
    this.slow = 0;
  }

  failureRate(): number {
    return this.calls === 0 ? 0 : this.failures / this.calls;
  }

  toJSON(): Record<string, unknown> {
    return { kind: 'count', size: this.size, calls: this.calls, failures: this.failures, slow: this.slow };
  }
}
