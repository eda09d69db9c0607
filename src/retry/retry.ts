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

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Calls `fn` until it succeeds, the attempts run out, or an error is not retryable.
 * @param fn - receives the 1-based attempt number
 * @returns what `fn` resolved with
 * @throws the last error of `fn`, or the signal's reason when aborted
 * @example
 * const user = await retry(() => db.findUser(id), DB_RETRY_POLICY);
 */
export async function retry<T>(fn: (attempt: number) => T | Promise<T>, opts: RetryOptions = {}): Promise<T> {
  const maxAttempts = Math.max(1, opts.maxAttempts ?? 3);
  const backoff = opts.backoff ?? exponential();
  for (let attempt = 1; ; attempt++) {
    if (opts.signal?.aborted) throw opts.signal.reason;
    try {
      return await fn(attempt);
    } catch (err) {
      const retryable = opts.isRetryable ? opts.isRetryable(err, attempt) : true;
      if (attempt >= maxAttempts || !retryable) throw err;
      const delayMs = backoff.delay(attempt);
      opts.onRetry?.(err, attempt, delayMs);
      await sleep(delayMs, opts.signal);
    }
  }
}
