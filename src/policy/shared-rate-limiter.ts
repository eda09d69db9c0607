import { RateLimitedError, TimeoutError } from '../errors.js';
import { silentLogger, type Logger } from '../logging.js';
import { systemClock, type Clock } from '../time/clock.js';
import { KvConflictError, type KeyValueStore, type KvEntry } from '../transport/key-value.js';
import { FORWARDS_SIGNAL, invoke, NEVER_ABORTED, type Policy, type PolicyCall } from './policy.js';
import {
  RateLimiter,
  resolveLimits,
  type RateLimiterOptions,
  type RateLimiterStats,
} from './rate-limiter.js';
import { decodeBucket, encodeBucket, SHARED_LIMIT_BUCKET, sharedLimitKey } from './shared-limit-format.js';
import { TokenBucket } from './token-bucket.js';

/** Options of a rate limiter shared by every instance through a key-value bucket. */
export interface SharedRateLimiterOptions extends RateLimiterOptions {
  /** The budget's name: every limiter given it, in any instance, takes from one bucket. */
  readonly shared: string;
  /** A bucket operation slower than this counts as the bucket being unreachable. @default 1_000 */
  readonly kvTimeoutMs?: number;
}

/** Where a shared limiter keeps its budget. */
export interface SharedRateLimiterEnvironment {
  /** Opens a key-value bucket: the runtime's transport's. */
  readonly keyValue: (bucket: string) => Promise<KeyValueStore>;
  /** @default the real clock */
  readonly clock?: Clock;
  /** @default silent */
  readonly logger?: Logger;
}

/** `connecting` before the bucket first answered; `local` while it is unreachable. */
export type SharedLimitMode = 'connecting' | 'shared' | 'local';

/** A shared limiter's stats: the local ones and how the bucket fares. */
export interface SharedRateLimiterStats extends RateLimiterStats {
  readonly shared: {
    readonly mode: SharedLimitMode;
    /** Times the limiter fell back to a local budget because the bucket was unreachable. */
    readonly degradations: number;
    /** Calls decided by the local budget while the bucket was unreachable. */
    readonly localCalls: number;
  };
}

/** Compare-and-set attempts in a row before a call counts as refused (peers took every token). */
const MAX_CAS = 16;
const FIRST_RETRY_MS = 1_000;
const MAX_RETRY_MS = 30_000;

/**
 * A token bucket kept in a key-value bucket, so that every instance given the same `shared` name
 * spends one budget: each call takes its token with a compare-and-set of the bucket's value.
 * When the bucket is unreachable (an error, or slower than `kvTimeoutMs`) it logs, counts, and
 * decides by a local bucket of the same limit until the shared one answers again (tried after
 * 1 s, then with doubling backoff up to 30 s). With `wait`, a refused call sleeps until its
 * token is due and tries again: waiting callers of different instances are not served in order.
 */
export class SharedRateLimiter implements Policy {
  readonly [FORWARDS_SIGNAL] = true;
  readonly name: string;
  private readonly o: ReturnType<typeof resolveLimits>;
  private readonly key: string;
  private readonly kvTimeoutMs: number;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly local: TokenBucket;
  private store: Promise<KeyValueStore> | undefined;
  private last: KvEntry | undefined;
  private mode: SharedLimitMode = 'connecting';
  private retryAt = 0;
  private retryMs = FIRST_RETRY_MS;
  private readonly counts = { granted: 0, rejected: 0, waiting: 0, degradations: 0, localCalls: 0 };

  /** @throws {ValidationError} when an option is out of range */
  constructor(
    options: SharedRateLimiterOptions,
    private readonly env: SharedRateLimiterEnvironment,
  ) {
    this.o = resolveLimits(options, options.shared);
    this.name = this.o.name;
    this.key = sharedLimitKey(options.shared);
    this.kvTimeoutMs = options.kvTimeoutMs ?? 1_000;
    this.clock = env.clock ?? systemClock;
    this.logger = (env.logger ?? silentLogger).child({ limiter: this.name, shared: options.shared });
    this.local = new TokenBucket(this.o.limit, this.o.intervalMs, this.clock.now());
  }

  /**
   * Runs `fn` once the shared budget (or, while it is unreachable, the local one) gives a token.
   * @returns what `fn` resolved with
   * @throws {RateLimitedError} when no token is free (with `wait`: when the wait would pass `maxWaitMs`)
   * @throws the signal's reason when it aborted before the call started
   * @throws what `fn` threw
   */
  async execute<T>(fn: PolicyCall<T>, signal?: AbortSignal): Promise<T> {
    const deadline = this.clock.now() + (this.o.wait ? this.o.maxWaitMs : 0);
    for (;;) {
      if (signal?.aborted) throw signal.reason;
      const waitMs = await this.take();
      if (waitMs === 0) break;
      if (!this.o.wait || this.clock.now() + waitMs > deadline) {
        this.counts.rejected++;
        throw new RateLimitedError(this.name, waitMs);
      }
      await this.sleep(waitMs, signal);
    }
    this.counts.granted++;
    return invoke(fn, signal ?? NEVER_ABORTED);
  }

  /** Calls let through and refused here, the bucket's mode, and the local budget's tokens. */
  stats(): SharedRateLimiterStats {
    const { name, limit, intervalMs } = this.o;
    const { granted, rejected, waiting, degradations, localCalls } = this.counts;
    const available = this.local.available(this.clock.now());
    const shared = { mode: this.mode, degradations, localCalls };
    return { name, limit, intervalMs, available, waiting, granted, rejected, shared };
  }

  /** @returns 0 when a token was taken, else ms until one is due */
  private async take(): Promise<number> {
    if (this.mode !== 'local' || this.clock.now() >= this.retryAt) {
      try {
        const waitMs = await this.takeShared();
        this.recovered();
        return waitMs;
      } catch (err) {
        this.degrade(err);
      }
    }
    this.counts.localCalls++;
    const now = this.clock.now();
    return this.local.tryTake(now) ? 0 : Math.max(1, this.local.waitMs(now));
  }

  private async takeShared(): Promise<number> {
    const store = await this.bounded((this.store ??= this.env.keyValue(SHARED_LIMIT_BUCKET)));
    for (let i = 0; i < MAX_CAS; i++) {
      const entry = this.last ?? (await this.bounded(store.get(this.key)));
      const now = this.clock.now();
      const bucket = decodeBucket(entry, this.o.limit, this.o.intervalMs, now);
      if (!bucket.tryTake(now)) {
        this.last = entry ?? undefined;
        return Math.max(1, bucket.waitMs(now));
      }
      const value = encodeBucket(bucket);
      try {
        const write = entry ? store.update(this.key, value, entry.revision) : store.create(this.key, value);
        const revision = await this.bounded(write);
        this.last = { key: this.key, value, revision, operation: 'PUT' };
        return 0;
      } catch (err) {
        if (!(err instanceof KvConflictError)) throw err;
        this.last = undefined;
      }
    }
    return 1;
  }

  private degrade(err: unknown): void {
    this.store = undefined;
    this.last = undefined;
    this.retryAt = this.clock.now() + this.retryMs;
    if (this.mode !== 'local') {
      this.counts.degradations++;
      this.logger.warn({ err, retryInMs: this.retryMs }, 'rate limit bucket unreachable: limiting locally');
    }
    this.retryMs = Math.min(this.retryMs * 2, MAX_RETRY_MS);
    this.mode = 'local';
  }

  private recovered(): void {
    if (this.mode === 'local')
      this.logger.info('rate limit bucket reachable again: limiting across instances');
    this.mode = 'shared';
    this.retryMs = FIRST_RETRY_MS;
  }

  /** `promise`, or a TimeoutError once `kvTimeoutMs` passed. */
  private bounded<T>(promise: Promise<T>): Promise<T> {
    const { clock, kvTimeoutMs } = this;
    return new Promise<T>((resolve, reject) => {
      const timer = clock.setTimeout(() => reject(new TimeoutError(kvTimeoutMs)), kvTimeoutMs);
      promise.then(
        (v) => (clock.clearTimeout(timer), resolve(v)),
        (e: unknown) => (clock.clearTimeout(timer), reject(e)),
      );
    });
  }

  private sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
    this.counts.waiting++;
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        this.clock.clearTimeout(timer);
        reject(signal?.reason);
      };
      const timer = this.clock.setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      signal?.addEventListener('abort', onAbort, { once: true });
    }).finally(() => this.counts.waiting--);
  }
}

/** Options of `rt.rateLimiter`: with `shared`, one budget across instances; without, this process's. */
export type AnyRateLimiterOptions = RateLimiterOptions &
  Partial<Pick<SharedRateLimiterOptions, 'shared' | 'kvTimeoutMs'>>;

/**
 * A limiter of this process, or a shared one when `options.shared` names a budget.
 * @throws {ValidationError} when an option is out of range or the shared name is not a valid key
 */
export function createRateLimiter(
  options: AnyRateLimiterOptions,
  env: SharedRateLimiterEnvironment,
): RateLimiter | SharedRateLimiter {
  const { shared } = options;
  return shared === undefined
    ? new RateLimiter(options, env)
    : new SharedRateLimiter({ ...options, shared }, env);
}
