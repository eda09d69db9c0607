import type { TripWindow } from '../machines/circuit-breaker.machine.js';

/**
 * How a CLOSED breaker decides to open: it records every finished call and says when the calls it
 * remembers cross its threshold. Implementations keep compact counters (no allocation per call),
 * since `record` runs on every call of a closed breaker.
 *
 * @example
 * // Opens after 3 failures in a row, whatever happened before.
 * const breaker = createBreaker('db', { strategy: () => new ConsecutiveStrategy(3) });
 */
export interface BreakerStrategy extends TripWindow {
  /**
   * Records one finished call.
   * @param failed - the call failed (an error `isFailure` accepts, or a timeout)
   * @param slow - the call took `slowCallMs` or longer
   * @param now - the clock's time when it finished, in ms
   * @returns true when the window is now past its threshold (same as {@link isTripped})
   */
  record(failed: boolean, slow: boolean, now: number): boolean;
  /** True when the calls recorded so far cross the threshold. */
  isTripped(): boolean;
  /** Forgets every recorded call (the breaker closed). */
  reset(): void;
  /**
   * @param now - the clock's time, so that a time window can drop calls that aged out
   * @returns failed calls / calls in the window, 0 when it is empty
   */
  failureRate(now: number): number;
  /** A small summary for the Stately inspector and logs. */
  toJSON(): Record<string, unknown>;
}

/** The thresholds a rate-based window judges against. */
export interface RateThresholds {
  /** Failure rate in (0, 1] at which the window trips. */
  readonly failureThreshold: number;
  /** Calls the window must hold before a rate is judged. */
  readonly minimumRequests: number;
  /** Slow-call rate in (0, 1] at which the window trips; above 1 disables it. */
  readonly slowCallRateThreshold: number;
}

/** True when `calls` (>= minimumRequests) hold enough failures or slow calls to trip. */
export function rateTripped(t: RateThresholds, calls: number, failures: number, slow: number): boolean {
  if (calls === 0 || calls < t.minimumRequests) return false;
  return failures / calls >= t.failureThreshold || slow / calls >= t.slowCallRateThreshold;
}

/**
 * Opens after `threshold` failed (or slow) calls in a row; any fast success starts the count again.
 * @example
 * new ConsecutiveStrategy(5);
 */
export class ConsecutiveStrategy implements BreakerStrategy {
  private consecutive = 0;
  private calls = 0;
  private failures = 0;

  /** @param threshold - failures in a row that trip it (>= 1) */
  constructor(readonly threshold: number) {}

  record(failed: boolean, slow: boolean): boolean {
    this.calls++;
    if (failed) this.failures++;
    this.consecutive = failed || slow ? this.consecutive + 1 : 0;
    return this.consecutive >= this.threshold;
  }

  isTripped(): boolean {
    return this.consecutive >= this.threshold;
  }

  reset(): void {
    this.consecutive = 0;
    this.calls = 0;
    this.failures = 0;
  }

  /** Failures over every call since the last reset: a consecutive count has no window of its own. */
  failureRate(): number {
    return this.calls === 0 ? 0 : this.failures / this.calls;
  }

  toJSON(): Record<string, unknown> {
    return { kind: 'consecutive', threshold: this.threshold, consecutive: this.consecutive };
  }
}
