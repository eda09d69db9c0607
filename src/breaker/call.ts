import type { Clock } from '../time/clock.js';
import { CircuitOpenError, TimeoutError } from '../errors.js';

/** The signal of every call without a timeout: one shared instance that never aborts. */
export const NEVER_ABORTED: AbortSignal = new AbortController().signal;

/** A breaker's call: the signal first, then the caller's arguments. */
export type BreakerCall<T, A extends unknown[]> = (signal: AbortSignal, ...args: A) => T | PromiseLike<T>;

/**
 * The CircuitOpenError of a refused call, without a stack trace: refusing is the fail-fast path,
 * and capturing a stack would cost several times the refusal itself. The message names the breaker.
 */
export function refusal(name: string): CircuitOpenError {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return new CircuitOpenError(name);
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/**
 * Runs `fn` with a signal that aborts after `timeoutMs`; the returned promise rejects with a
 * TimeoutError at that moment, whether or not `fn` honours its signal. The timer is cleared as
 * soon as either side settles, so nothing of the breaker's outlives the call.
 */
export function callWithTimeout<T, A extends unknown[]>(
  fn: BreakerCall<T, A>,
  args: A,
  timeoutMs: number,
  clock: Clock,
): Promise<T> {
  const controller = new AbortController();
  return new Promise<T>((resolve, reject) => {
    const timer = clock.setTimeout(() => {
      const err = new TimeoutError(timeoutMs);
      controller.abort(err);
      reject(err);
    }, timeoutMs);
    const settle = (ok: boolean, value: unknown): void => {
      clock.clearTimeout(timer);
      if (ok) resolve(value as T);
      else reject(value);
    };
    try {
      Promise.resolve(fn(controller.signal, ...args)).then(
        (value) => settle(true, value),
        (err) => settle(false, err),
      );
    } catch (err) {
      settle(false, err);
    }
  });
}
