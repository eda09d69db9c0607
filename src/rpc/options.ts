import { z } from 'zod';
import type { RestartPolicy } from '../actors/supervisor/types.js';
import type { BreakerOptions } from '../breaker/options.js';
import { ValidationError } from '../errors.js';
import type { RetryPolicy } from '../retry/retry.js';

/** Options of `rt.handle`. */
export interface HandleOptions {
  /** Requests handled at once by this instance; more wait for a slot. @default 32 */
  readonly concurrency?: number;
  /**
   * How long a handler may run: its `meta.signal` aborts and the caller gets a 504 after this long,
   * or sooner when the caller's own deadline passes first. @default 5_000
   */
  readonly timeoutMs?: number;
  /** Requests that may wait for a slot; beyond them a request is answered 503 at once. @default 1_000 */
  readonly maxWaiting?: number;
  /** How the endpoint is restarted when serving fails. @default the supervisor's default policy */
  readonly restart?: RestartPolicy | false;
}

/** Options of `rt.request`. */
export interface RequestOptions {
  /**
   * The deadline of the whole call, retries included; what is left of it travels with each attempt
   * and the handler's signal aborts when it passes. @default 5_000
   */
  readonly timeoutMs?: number;
  /**
   * Tries again after a failure the policy deems retryable, within the deadline.
   * @default undefined (one attempt); with a policy whose `isRetryable` is unset, only "no responders"
   * and 503 (busy) are retried
   */
  readonly retry?: RetryPolicy;
  /**
   * The breaker of the remote endpoint (`rpc:<name>` in `rt.breakers`): on by default, options of its
   * own the first time it is made, or `false` for none. A 4xx answer does not count as a failure.
   * @default true
   */
  readonly breaker?: boolean | BreakerOptions;
  /** Extra headers for the handler's `meta.header()`. */
  readonly headers?: Readonly<Record<string, string>>;
  /** The request's id, the handler's `meta.id`. @default a new UUID v7 */
  readonly id?: string;
  /** W3C trace context to continue. @default the active trace, if any */
  readonly traceparent?: string;
}

/** {@link HandleOptions} with defaults applied. */
export interface ResolvedHandleOptions {
  readonly concurrency: number;
  readonly timeoutMs: number;
  readonly maxWaiting: number;
  readonly restart: RestartPolicy | false;
}

const handleSchema = z.object({
  concurrency: z.number().int().positive().optional(),
  timeoutMs: z.number().finite().positive().optional(),
  maxWaiting: z.number().int().nonnegative().optional(),
});

/**
 * Applies the defaults of {@link HandleOptions}.
 * @throws {ValidationError} when an option is out of range
 */
export function resolveHandleOptions(options: HandleOptions): ResolvedHandleOptions {
  const r = handleSchema.safeParse(options);
  if (!r.success) throw ValidationError.fromIssues('invalid endpoint options', r.error.issues);
  return {
    concurrency: options.concurrency ?? 32,
    timeoutMs: options.timeoutMs ?? 5_000,
    maxWaiting: options.maxWaiting ?? 1_000,
    restart: options.restart ?? {},
  };
}

/** The default deadline of a request. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 5_000;

/**
 * @returns the deadline of a request
 * @throws {ValidationError} when `timeoutMs` is not a positive number
 */
export function requestTimeout(options: RequestOptions | undefined): number {
  const ms = options?.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  if (!(ms > 0) || !Number.isFinite(ms)) throw new ValidationError(`timeoutMs must be a positive number`);
  return ms;
}
