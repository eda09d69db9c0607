import type { BreakerOptions } from '../../src/breaker/index.js';

type State = 'CLOSED' | 'OPEN' | 'HALF_OPEN' | 'FORCED_OPEN' | 'FORCED_CLOSED';
interface Call {
  readonly t: number;
  readonly failed: boolean;
  readonly slow: boolean;
}
export type Outcome = 'ok' | 'error' | 'ignored' | 'timeout';
export type Result = 'ok' | 'error' | 'timeout' | 'rejected';

/**
 * A circuit breaker written the plainest way: every call kept in an array, every rule evaluated
 * from scratch. The property test checks the real breaker against it.
 */
export class ReferenceBreaker {
  state: State = 'CLOSED';
  now: number;
  private calls: Call[] = [];
  private openUntil = 0;
  private openedAt: number | undefined;
  private trialSuccesses = 0;
  private successes = 0;
  private failures = 0;
  private rejections = 0;
  private timeouts = 0;

  constructor(
    private readonly o: Required<
      Pick<BreakerOptions, 'failureThreshold' | 'minimumRequests' | 'resetTimeoutMs'>
    > &
      BreakerOptions & {
        window: { kind: 'count'; size: number } | { kind: 'time'; ms: number; buckets: number };
      },
    start: number,
  ) {
    this.now = start;
  }

  advance(ms: number): void {
    this.now += ms;
    if (this.state === 'OPEN' && this.now >= this.openUntil) this.enter('HALF_OPEN');
  }

  manual(kind: 'open' | 'close' | 'reset'): void {
    if (kind === 'open') this.enter('FORCED_OPEN');
    else if (kind === 'close') this.enter('FORCED_CLOSED');
    else {
      this.calls = [];
      this.enter('CLOSED');
    }
  }

  /** A call that takes `ms` (or times out after timeoutMs) and ends with `outcome`. */
  call(outcome: Outcome, ms: number): Result {
    if (this.state === 'OPEN' || this.state === 'FORCED_OPEN') {
      this.rejections++;
      return 'rejected';
    }
    const timedOut = outcome === 'timeout';
    const elapsed = timedOut ? this.o.timeoutMs! : ms;
    this.now += elapsed;
    const failed = timedOut || outcome === 'error';
    const slow = this.o.slowCallMs !== undefined && elapsed >= this.o.slowCallMs;
    if (failed) this.failures++;
    else this.successes++;
    if (timedOut) this.timeouts++;
    if (this.state === 'HALF_OPEN') this.trial(failed || slow);
    else {
      this.calls.push({ t: this.now, failed, slow });
      if (this.state === 'CLOSED' && this.tripped()) this.open();
    }
    return timedOut ? 'timeout' : outcome === 'ok' ? 'ok' : 'error';
  }

  stats() {
    const inWindow = this.windowCalls();
    const failureRate = inWindow.length ? inWindow.filter((c) => c.failed).length / inWindow.length : 0;
    const forced = this.state === 'FORCED_OPEN' || this.state === 'FORCED_CLOSED';
    const state =
      this.state === 'FORCED_OPEN' ? 'OPEN' : this.state === 'FORCED_CLOSED' ? 'CLOSED' : this.state;
    return {
      state,
      forced,
      failureRate,
      totalRequests: this.successes + this.failures + this.rejections,
      successCount: this.successes,
      failureCount: this.failures,
      rejectedCount: this.rejections,
      timeoutCount: this.timeouts,
      openedAt: this.openedAt,
    };
  }

  private trial(failed: boolean): void {
    if (failed) return this.open();
    if (++this.trialSuccesses >= (this.o.halfOpenSuccessThreshold ?? 1)) {
      this.calls = [];
      this.enter('CLOSED');
    }
  }

  private open(): void {
    this.openUntil = this.now + this.o.resetTimeoutMs;
    this.enter('OPEN');
  }

  private enter(state: State): void {
    this.state = state;
    if (state === 'OPEN') this.openedAt = this.now;
    else if (state !== 'HALF_OPEN') this.openedAt = undefined;
    if (state === 'HALF_OPEN') this.trialSuccesses = 0;
  }

  /** The calls a rate is computed over (for a consecutive threshold: every call since the last reset). */
  private windowCalls(): Call[] {
    if (this.o.failureThreshold >= 1) return this.calls;
    const w = this.o.window;
    if (w.kind === 'count') return this.calls.slice(-w.size);
    const bucketMs = w.ms / w.buckets;
    const current = Math.floor(this.now / bucketMs);
    return this.calls.filter((c) => Math.floor(c.t / bucketMs) > current - w.buckets);
  }

  private tripped(): boolean {
    const threshold = this.o.failureThreshold;
    if (threshold >= 1) {
      let run = 0;
      for (let i = this.calls.length - 1; i >= 0 && (this.calls[i]!.failed || this.calls[i]!.slow); i--)
        run++;
      return run >= threshold;
    }
    const calls = this.windowCalls();
    const size = this.o.window.kind === 'count' ? this.o.window.size : Infinity;
    if (calls.length === 0 || calls.length < Math.min(this.o.minimumRequests, size)) return false;
    const failed = calls.filter((c) => c.failed).length / calls.length;
    const slow = calls.filter((c) => c.slow).length / calls.length;
    const slowThreshold = this.o.slowCallMs === undefined ? Infinity : (this.o.slowCallRateThreshold ?? 1);
    return failed >= threshold || slow >= slowThreshold;
  }
}
