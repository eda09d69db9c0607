import type { Clock } from '../time/clock.js';
import { exponential, type Backoff } from './backoff.js';

/** A retry policy: how many tries, how long between them, and which errors deserve another. */
export interface RetryPolicy {
  /** Total tries including the first. @default 3 */
  maxAttempts?: number;
  /** @default exponential() */
  backoff?: Backoff;
  /** @default every error is retried */
  isRetryable?: (err: unknown, attempt: number) => boolean;
}

/** Options of {@link retry}. */
export interface RetryOptions extends RetryPolicy {
  /** Aborting stops waiting and rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Called before each wait; useful for logs and metrics. */
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
  /** Times the waits between tries. @default the real clock */
  clock?: Clock;
}

/** Retries the policy of databases: quick first retries, a short cap. */
export const DB_RETRY_POLICY: Readonly<Required<Pick<RetryPolicy, 'maxAttempts' | 'backoff'>>> =
  Object.freeze({
    maxAttempts: 5,
    backoff: exponential({ initialMs: 50, maxMs: 2_000, jitter: 'equal' }),
  });

/** Retries the policy of remote HTTP APIs: slower, longer cap, fully jittered. */
export const API_RETRY_POLICY: Readonly<Required<Pick<RetryPolicy, 'maxAttempts' | 'backoff'>>> =
  Object.freeze({
    maxAttempts: 3,
    backoff: exponential({ initialMs: 200, maxMs: 10_000, jitter: 'full' }),
  });

/** The signal of calls made without one: a single instance that never aborts. */
export const NEVER_ABORTED: AbortSignal = new AbortController().signal;

/**
 * Marks a policy that hands its caller's signal (or one that aborts with it) to the function it
 * runs, so that `wrap` needs to link nothing around it. Keyed globally: retry sits below policies.
 */
export const FORWARDS_SIGNAL: unique symbol = Symbol.for('bulwark.policy.forwardsSignal') as never;

function sleep(ms: number, signal: AbortSignal | undefined, clock: Clock | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = (): void => {
      if (clock) clock.clearTimeout(timer);
      else clearTimeout(timer as NodeJS.Timeout);
      reject(signal?.reason);
    };
    const done = (): void => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    };
    const timer: unknown = clock ? clock.setTimeout(done, ms) : setTimeout(done, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

async function attempts<T>(
  fn: (attempt: number) => T | PromiseLike<T>,
  opts: RetryOptions,
  signal: AbortSignal | undefined,
): Promise<T> {
  const maxAttempts = Math.max(1, opts.maxAttempts ?? 3);
  const backoff = opts.backoff ?? exponential();
  for (let attempt = 1; ; attempt++) {
    if (signal?.aborted) throw signal.reason;
    try {
      return await fn(attempt);
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      const retryable = opts.isRetryable ? opts.isRetryable(err, attempt) : true;
      if (attempt >= maxAttempts || !retryable) throw err;
      const delayMs = backoff.delay(attempt);
      opts.onRetry?.(err, attempt, delayMs);
      await sleep(delayMs, signal, opts.clock);
    }
  }
}

/**
 * A retry policy as a composable policy (`wrap(…, retry(API_RETRY_POLICY), …)`): `execute(fn)`
 * calls `fn(signal)` until it succeeds, the attempts run out, or an error is not retryable.
 */
export class RetryingPolicy {
  readonly [FORWARDS_SIGNAL] = true;

  /** @param options - the policy; its `signal`, when set, stands for the caller's when one gives none */
  constructor(readonly options: RetryOptions) {}

  /**
   * Runs `fn` with retries.
   * @param fn - receives the caller's signal (a never-aborted one without)
   * @param signal - aborting it stops retrying (and the wait between tries)
   * @returns what `fn` resolved with
   * @throws the last error of `fn`, or the signal's reason when aborted
   */
  execute<T>(fn: (signal: AbortSignal) => T | PromiseLike<T>, signal?: AbortSignal): Promise<T> {
    const s = signal ?? this.options.signal;
    const once = (): T | PromiseLike<T> => fn(s ?? NEVER_ABORTED);
    return attempts(once, this.options, s);
  }
}

/**
 * Calls `fn` until it succeeds, the attempts run out, or an error is not retryable.
 * @param fn - receives the 1-based attempt number
 * @returns what `fn` resolved with
 * @throws the last error of `fn`, or the signal's reason when aborted
 * @example
 * const user = await retry(() => db.findUser(id), DB_RETRY_POLICY);
 */
export function retry<T>(fn: (attempt: number) => T | PromiseLike<T>, opts?: RetryOptions): Promise<T>;
/**
 * The policy `opts` describes, to compose with other policies.
 * @returns a policy whose `execute(fn(signal))` retries `fn`
 * @example
 * const policy = wrap(retry(API_RETRY_POLICY), rt.breaker('stripe'), timeout(5_000));
 */
export function retry(opts: RetryOptions): RetryingPolicy;
export function retry<T>(
  fnOrOpts: ((attempt: number) => T | PromiseLike<T>) | RetryOptions,
  opts: RetryOptions = {},
): Promise<T> | RetryingPolicy {
  if (typeof fnOrOpts !== 'function') return new RetryingPolicy(fnOrOpts);
  return attempts(fnOrOpts, opts, opts.signal);
}
