import type { Env } from '../env.js';
import { z } from 'zod';
import { ValidationError } from '../errors.js';
import type { KeyValueStore } from '../transport/key-value.js';
import { ConsecutiveStrategy, type BreakerStrategy } from './strategy.js';
import { CountWindowStrategy } from './count-window.js';
import { TimeWindowStrategy } from './time-window.js';

/** A breaker's public state. */
export const BreakerState = {
  CLOSED: 'CLOSED',
  OPEN: 'OPEN',
  HALF_OPEN: 'HALF_OPEN',
} as const;
export type BreakerState = (typeof BreakerState)[keyof typeof BreakerState];

/** The calls a rate is computed over: the last `size` calls, or the calls of the last `ms`. */
export type BreakerWindow = { kind: 'count'; size: number } | { kind: 'time'; ms: number; buckets?: number };

/** Options of a circuit breaker; every field is optional. */
export interface BreakerOptions {
  /**
   * A failure rate in (0, 1) at which the breaker opens, or, when an integer >= 1, a count of
   * consecutive failures (`1` means: the first failure opens it).
   * @default 0.5
   */
  failureThreshold?: number;
  /** Calls the window must hold before a rate is judged (capped at a count window's size). @default 10 */
  minimumRequests?: number;
  /** @default { kind: 'count', size: 100 } (a time window has `buckets` @default 10) */
  window?: BreakerWindow;
  /** A call that takes this long or longer is slow. @default undefined (no slow-call tracking) */
  slowCallMs?: number;
  /**
   * Rate of slow calls in (0, 1] at which the breaker opens (with a consecutive threshold, slow
   * calls simply count as failures).
   * @default 1
   */
  slowCallRateThreshold?: number;
  /** The call's AbortSignal aborts after this long and the call fails with TimeoutError. @default undefined (none) */
  timeoutMs?: number;
  /** How long OPEN lasts before HALF_OPEN lets trial calls through. @default 60_000 */
  resetTimeoutMs?: number;
  /** Trial calls admitted at once in HALF_OPEN. @default 1 */
  halfOpenMaxCalls?: number;
  /** Trial successes that close a HALF_OPEN breaker; any trial failure reopens it. @default 1 */
  halfOpenSuccessThreshold?: number;
  /**
   * Which errors count as failures; the others are passed on but count as successful calls (the
   * dependency answered). A TimeoutError from `timeoutMs` always counts.
   * @default every error counts
   */
  isFailure?: (err: unknown) => boolean;
  /**
   * Called instead of rejecting when the breaker refuses a call (`err` is a CircuitOpenError) or a
   * call fails; it receives the call's extra arguments. Must return what the calls return.
   * @default undefined (reject)
   */
  fallback?: (err: unknown, ...args: any[]) => unknown;
  /** Share state with every instance of this service through the runtime's key-value bucket. @default false */
  shared?: boolean;
  /** A strategy of your own instead of `failureThreshold` / `window` (called once per breaker). */
  strategy?: () => BreakerStrategy;
  /**
   * Whether this breaker counts in the runtime's health: `false` keeps an OPEN or HALF_OPEN
   * breaker from making the runtime DEGRADED, and `protect()` from registering its adapter.
   * @default true
   */
  health?: boolean;
  /**
   * The name of a registered health check to follow (`rt.breaker` only): while it is UNHEALTHY the
   * breaker is OPEN and stays so past its reset delay; once it recovers, trial calls go through
   * (HALF_OPEN, then CLOSED after `halfOpenSuccessThreshold` successes).
   * @default undefined (follows no check)
   */
  healthCheck?: string;
}

/** Call counters, as `Breaker.addCounts` adds a breaker's to them (a scrape sums every breaker's without allocating). */
export interface CallCounts {
  successes: number;
  /** Failures other than timeouts. */
  failures: number;
  timeouts: number;
  rejections: number;
  /** Calls at least `slowCallMs` long (also counted as a success or a failure). */
  slow: number;
}

/**
 * Where breakers report a sample of their call durations (one call in {@link SAMPLE_EVERY}); the
 * runtime's metrics provide it as a histogram.
 */
export interface CallTimings {
  /** One sampled call took `ms`. */
  observe(ms: number): void;
}

/** A breaker times one call in this many for {@link CallTimings}: a clock read per call would cost more than the breaker. */
export const SAMPLE_EVERY = 16;

/** A breaker's counters as `stats()` reports them. */
export interface BreakerStats {
  readonly name: string;
  readonly state: BreakerState;
  /** Set while a manual `open()` / `close()` holds the state. */
  readonly forced?: boolean;
  /** Failure rate over the current window, in [0, 1]. */
  readonly failureRate: number;
  /** Every call: successes + failures + rejections. */
  readonly totalRequests: number;
  /** Calls that resolved, or failed with an error `isFailure` does not count. */
  readonly successCount: number;
  /** Calls that failed and counted, timeouts included. */
  readonly failureCount: number;
  /** Calls refused while OPEN or with every HALF_OPEN trial slot taken. */
  readonly rejectedCount: number;
  /** Calls that failed with a TimeoutError (also in `failureCount`). */
  readonly timeoutCount: number;
  /** When the current OPEN period began (clock ms), while OPEN or HALF_OPEN. */
  readonly openedAt?: number;
  /** For `shared: true`: whether state is shared now, still connecting, or local after a KV failure. */
  readonly shared?: { readonly mode: SharedMode };
}

/** Where a `shared: true` breaker keeps its state right now. */
export type SharedMode = 'connecting' | 'shared' | 'local-degraded';

const positive = z.number().finite().positive();
const count = z.number().int().positive();
const optionsSchema = z.object({
  failureThreshold: positive
    .refine((n) => n < 1 || Number.isInteger(n), 'a count of consecutive failures must be an integer')
    .optional(),
  minimumRequests: count.optional(),
  window: z
    .discriminatedUnion('kind', [
      z.object({ kind: z.literal('count'), size: count }),
      z.object({ kind: z.literal('time'), ms: positive, buckets: count.optional() }),
    ])
    .optional(),
  slowCallMs: positive.optional(),
  slowCallRateThreshold: positive.max(1).optional(),
  timeoutMs: positive.optional(),
  resetTimeoutMs: z.number().finite().nonnegative().optional(),
  halfOpenMaxCalls: count.optional(),
  halfOpenSuccessThreshold: count.optional(),
  health: z.boolean().optional(),
  healthCheck: z.string().min(1).optional(),
});

/** Options with their defaults applied, as a breaker holds them. */
export interface ResolvedBreakerOptions {
  readonly timeoutMs: number | undefined;
  readonly slowCallMs: number | undefined;
  readonly resetTimeoutMs: number;
  readonly halfOpenMaxCalls: number;
  readonly halfOpenSuccessThreshold: number;
  readonly isFailure: ((err: unknown) => boolean) | undefined;
  readonly fallback: ((err: unknown, ...args: any[]) => unknown) | undefined;
  readonly shared: boolean;
  /** The clock is read per call only when a slow-call or time window needs it. */
  readonly timed: boolean;
  readonly strategy: () => BreakerStrategy;
  readonly health: boolean;
  readonly healthCheck: string | undefined;
}

// Breakers made from the same options object (or none) share one resolved copy.
const resolvedCache = new WeakMap<BreakerOptions, ResolvedBreakerOptions>();
const NO_OPTIONS: BreakerOptions = Object.freeze({});

/**
 * Validates options and applies the defaults.
 * @throws {ValidationError} when a number is out of range
 */
export function resolveOptions(name: string, options: BreakerOptions = NO_OPTIONS): ResolvedBreakerOptions {
  let resolved = resolvedCache.get(options);
  if (!resolved) {
    resolved = Object.freeze(resolve(name, options));
    resolvedCache.set(options, resolved);
  }
  return resolved;
}

function resolve(name: string, options: BreakerOptions): ResolvedBreakerOptions {
  const parsed = optionsSchema.safeParse(options);
  if (!parsed.success)
    throw ValidationError.fromIssues(`invalid options of breaker "${name}"`, parsed.error.issues);
  const window = options.window ?? { kind: 'count', size: 100 };
  const slowCallMs = options.slowCallMs;
  return {
    timeoutMs: options.timeoutMs,
    slowCallMs,
    resetTimeoutMs: options.resetTimeoutMs ?? 60_000,
    halfOpenMaxCalls: options.halfOpenMaxCalls ?? 1,
    halfOpenSuccessThreshold: options.halfOpenSuccessThreshold ?? 1,
    isFailure: options.isFailure,
    fallback: options.fallback,
    shared: options.shared ?? false,
    timed: slowCallMs !== undefined || window.kind === 'time',
    strategy: options.strategy ?? strategyFactory(options, window, slowCallMs),
    health: options.health ?? true,
    healthCheck: options.healthCheck,
  };
}

function strategyFactory(
  options: BreakerOptions,
  window: BreakerWindow,
  slowCallMs: number | undefined,
): () => BreakerStrategy {
  const failureThreshold = options.failureThreshold ?? 0.5;
  if (failureThreshold >= 1) return () => new ConsecutiveStrategy(failureThreshold);
  const thresholds = {
    failureThreshold,
    minimumRequests: options.minimumRequests ?? 10,
    // Above 1 no rate can reach it: slow calls are then not judged at all.
    slowCallRateThreshold: slowCallMs === undefined ? 2 : (options.slowCallRateThreshold ?? 1),
  };
  if (window.kind === 'count') return () => new CountWindowStrategy(window.size, thresholds);
  return () => new TimeWindowStrategy(window.ms, window.buckets ?? 10, thresholds);
}

/** What a breaker runs in: the runtime's clock, logger and inspector, and its KV bucket for `shared`. */
export interface BreakerEnvironment extends Partial<Env> {
  /**
   * `clock` defaults to the system clock and `logger` to a silent one; with `inspect`, the
   * breaker's actor starts at once so the inspector sees it.
   */
  /** The bucket of shared breakers; without it `shared: true` degrades to local state with a warning. */
  /** `fresh`: the bucket was deleted; open (and so create) it anew rather than reuse a handle. */
  keyValue?: (fresh?: boolean) => Promise<KeyValueStore>;
  /** The breaker's key in that bucket. @default the breaker's name */
  sharedKey?: string;
  /**
   * The bucket breakers shared before buckets were named per prefix, when it exists (never created):
   * a key missing from `keyValue`'s bucket is taken from it once. @default none
   */
  legacyKeyValue?: () => Promise<KeyValueStore>;
  /** Tells this process's writes apart from its peers'. @default a random UUID */
  instanceId?: string;
  /** Receives a sample of call durations. @default none (no call is timed for it) */
  timings?: CallTimings;
  /** Told when `protect()` wraps an adapter with this breaker (the runtime registers it with health). */
  onProtected?: (adapter: string) => void;
}
