import { RateLimitedError, ValidationError } from '../errors.js';
import { systemClock, type Clock } from '../time/clock.js';
import {
  FORWARDS_SIGNAL,
  invoke,
  NEVER_ABORTED,
  type Policy,
  type PolicyCall,
  type Waiter,
} from './policy.js';
import { TokenBucket } from './token-bucket.js';

/** Options of {@link rateLimiter}. */
export interface RateLimiterOptions {
  /** Calls let through per interval; also the burst a full bucket allows. */
  readonly limit: number;
  /** The interval, in ms. */
  readonly intervalMs: number;
  /** Wait for a token (in call order) instead of refusing the call. @default false */
  readonly wait?: boolean;
  /** With `wait`: refuse a call that would wait longer than this. @default Infinity */
  readonly maxWaitMs?: number;
  /** Named in errors, stats and logs. @default 'rate-limiter' (the `shared` name when shared) */
  readonly name?: string;
}

/** What a rate limiter has let through and refused. */
export interface RateLimiterStats {
  readonly name: string;
  readonly limit: number;
  readonly intervalMs: number;
  /** Whole tokens in the bucket now. */
  readonly available: number;
  /** Calls waiting for a token now. */
  readonly waiting: number;
  readonly granted: number;
  readonly rejected: number;
}

/** Where a limiter takes its time from. */
export interface RateLimiterEnvironment {
  /** @default the real clock */
  readonly clock?: Clock;
}

/** @returns the options with defaults, checked */
export function resolveLimits(options: RateLimiterOptions, fallbackName: string) {
  const { limit, intervalMs, wait = false, maxWaitMs = Infinity, name = fallbackName } = options;
  const integer = (n: number, min: number) => Number.isInteger(n) && n >= min;
  if (!integer(limit, 1))
    throw new ValidationError(`rate limiter "${name}": limit must be a positive integer`);
  if (!integer(intervalMs, 1)) {
    throw new ValidationError(`rate limiter "${name}": intervalMs must be a positive integer`);
  }
  if (!(maxWaitMs >= 0)) throw new ValidationError(`rate limiter "${name}": maxWaitMs must be >= 0`);
  return { limit, intervalMs, wait, maxWaitMs, name };
}

/**
 * A token bucket in this process: `limit` calls per `intervalMs`, refilled continuously, bursting
 * up to `limit`. Beyond it a call is refused with a RateLimitedError, or, with `wait`, waits in
 * order for its token (a waiting caller whose signal aborts leaves the queue).
 * @example
 * const limit = new RateLimiter({ limit: 100, intervalMs: 1_000 });
 */
export class RateLimiter implements Policy {
  readonly [FORWARDS_SIGNAL] = true;
  readonly name: string;
  private readonly o: ReturnType<typeof resolveLimits>;
  private readonly clock: Clock;
  private readonly bucket: TokenBucket;
  private readonly waiting: Waiter[] = [];
  private timer: unknown;
  private granted = 0;
  private rejected = 0;

  /** @throws {ValidationError} when an option is out of range */
  constructor(options: RateLimiterOptions, env: RateLimiterEnvironment = {}) {
    this.o = resolveLimits(options, 'rate-limiter');
    this.name = this.o.name;
    this.clock = env.clock ?? systemClock;
    this.bucket = new TokenBucket(this.o.limit, this.o.intervalMs, this.clock.now());
  }

  /**
   * Runs `fn` if a token is free (or, with `wait`, once one is).
   * @param signal - aborting it while the call waits removes it from the queue
   * @returns what `fn` resolved with
   * @throws {RateLimitedError} when no token is free (with `wait`: when the wait would pass `maxWaitMs`)
   * @throws the signal's reason when it aborted before the call started
   * @throws what `fn` threw
   */
  execute<T>(fn: PolicyCall<T>, signal?: AbortSignal): Promise<T> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.waiting.length === 0 && this.bucket.tryTake(this.clock.now())) {
      this.granted++;
      return invoke(fn, signal ?? NEVER_ABORTED);
    }
    return this.refuseOrWait(fn, signal);
  }

  /** Tokens free now, callers waiting, calls let through and refused. */
  stats(): RateLimiterStats {
    const { name, limit, intervalMs } = this.o;
    const available = this.bucket.available(this.clock.now());
    const { granted, rejected } = this;
    return { name, limit, intervalMs, available, waiting: this.waiting.length, granted, rejected };
  }

  private refuseOrWait<T>(fn: PolicyCall<T>, signal: AbortSignal | undefined): Promise<T> {
    const waitMs = this.bucket.waitMs(this.clock.now(), this.waiting.length);
    if (!this.o.wait || waitMs > this.o.maxWaitMs) {
      this.rejected++;
      return Promise.reject(new RateLimitedError(this.name, waitMs));
    }
    return new Promise<T>((resolve, reject) => {
      const waiter: Waiter = {
        fn,
        signal,
        resolve: resolve as (v: unknown) => void,
        reject,
        onAbort: undefined,
      };
      if (signal) {
        waiter.onAbort = () => this.leave(waiter);
        signal.addEventListener('abort', waiter.onAbort, { once: true });
      }
      this.waiting.push(waiter);
      this.schedule();
    });
  }

  private leave(waiter: Waiter): void {
    const at = this.waiting.indexOf(waiter);
    if (at < 0) return;
    this.waiting.splice(at, 1);
    waiter.reject(waiter.signal?.reason);
    if (this.waiting.length === 0) this.cancelTimer();
  }

  /** Arms the one timer of the queue for the moment its first caller's token is due. */
  private schedule(): void {
    if (this.timer !== undefined || this.waiting.length === 0) return;
    this.timer = this.clock.setTimeout(this.pump, this.bucket.waitMs(this.clock.now()));
  }

  private readonly pump = (): void => {
    this.timer = undefined;
    const now = this.clock.now();
    while (this.waiting.length > 0 && this.bucket.tryTake(now)) {
      const next = this.waiting.shift()!;
      if (next.onAbort) next.signal?.removeEventListener('abort', next.onAbort);
      this.granted++;
      invoke(next.fn, next.signal ?? NEVER_ABORTED).then(next.resolve, next.reject);
    }
    this.schedule();
  };

  private cancelTimer(): void {
    if (this.timer === undefined) return;
    this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }
}

/**
 * A rate limiter for this process: a token bucket of `limit` calls per `intervalMs`.
 * For one budget across every instance of a service, use `rt.rateLimiter({ …, shared: name })`.
 * @returns a policy that refuses calls beyond the rate with a RateLimitedError (or makes them wait)
 * @throws {ValidationError} when an option is out of range
 * @example
 * const limit = rateLimiter({ limit: 100, intervalMs: 1_000 });
 * await limit.execute((signal) => fetch(url, { signal }));
 * const patient = rateLimiter({ limit: 10, intervalMs: 1_000, wait: true, maxWaitMs: 5_000 });
 */
export function rateLimiter(options: RateLimiterOptions, env: RateLimiterEnvironment = {}): RateLimiter {
  return new RateLimiter(options, env);
}
