import { TimeoutError, ValidationError } from '../errors.js';
import { systemClock, type Clock } from '../time/clock.js';
import { FORWARDS_SIGNAL, invoke, type Policy, type PolicyCall } from './policy.js';

/** Where a timeout takes its time from. */
export interface TimeoutEnvironment {
  /** @default the real clock */
  readonly clock?: Clock;
}

/**
 * Bounds each call to `ms`: the call's signal aborts with a TimeoutError and the call rejects
 * with it at that moment, whether or not the work honours its signal. The caller's signal aborts
 * the call's signal too. The timer is cleared as soon as the call settles.
 * @example
 * const fiveSeconds = new Timeout(5_000);
 */
export class Timeout implements Policy {
  readonly [FORWARDS_SIGNAL] = true;
  private readonly clock: Clock;

  /** @throws {ValidationError} when `ms` is not a positive number */
  constructor(
    readonly ms: number,
    env: TimeoutEnvironment = {},
  ) {
    if (!(ms > 0) || !Number.isFinite(ms)) throw new ValidationError(`timeout: ms must be a positive number`);
    this.clock = env.clock ?? systemClock;
  }

  /**
   * Runs `fn` with a signal that aborts after `ms`.
   * @returns what `fn` resolved with
   * @throws {TimeoutError} when `ms` passed first
   * @throws the caller's signal's reason when it aborted first
   * @throws what `fn` threw
   */
  execute<T>(fn: PolicyCall<T>, signal?: AbortSignal): Promise<T> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    const controller = new AbortController();
    const { clock, ms } = this;
    return new Promise<T>((resolve, reject) => {
      const stop = (reason: unknown): void => {
        controller.abort(reason);
        reject(reason);
      };
      const onAbort = (): void => {
        clock.clearTimeout(timer);
        stop(signal?.reason);
      };
      const timer = clock.setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        stop(new TimeoutError(ms));
      }, ms);
      signal?.addEventListener('abort', onAbort, { once: true });
      const settle = (): void => {
        clock.clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      };
      invoke(fn, controller.signal).then(
        (value) => {
          settle();
          resolve(value);
        },
        (err: unknown) => {
          settle();
          reject(err);
        },
      );
    });
  }
}

/**
 * A timeout policy: each call's signal aborts after `ms` and the call rejects with a TimeoutError.
 * @param ms - the bound of every call
 * @returns the policy
 * @throws {ValidationError} when `ms` is not a positive number
 * @example
 * const policy = wrap(retry(API_RETRY_POLICY), timeout(5_000)); // each try gets 5 s
 * await policy.execute((signal) => fetch(url, { signal }));
 */
export function timeout(ms: number, env: TimeoutEnvironment = {}): Timeout {
  return new Timeout(ms, env);
}
