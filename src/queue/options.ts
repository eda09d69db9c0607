import { z } from 'zod';
import { ValidationError } from '../errors.js';
import { exponential, type Backoff } from '../retry/backoff.js';
import { uuidv7 } from '../events/ids.js';
import type { NewJob } from './store.js';
import { PRIORITIES, type JobOptions, type QueueObserver } from './types.js';
import { limiterSchema, type QueueLimiterOptions } from './limiter.js';

/** Options of `rt.queue(name, options)`. */
export interface QueueOptions {
  /** Jobs this worker runs at once. @default 1 */
  concurrency?: number;
  /** Total tries per job including the first, unless the job says. @default 3 */
  maxAttempts?: number;
  /** Delay before each retry, unless the job says. @default exponential({ initialMs: 1_000, maxMs: 60_000 }) */
  backoff?: Backoff;
  /** A try running longer fails with a TimeoutError and its signal aborts; 0 for none. @default 0 */
  timeoutMs?: number;
  /**
   * How long the broker waits for a settle before another worker takes the job (a crashed
   * worker's jobs come back after it). Active jobs send heartbeats, so a long job is not taken
   * from a healthy worker. @default 30_000
   */
  ackWaitMs?: number;
  /** How long `close()` waits for active jobs before handing them back. @default 10_000 */
  closeTimeoutMs?: number;
  /**
   * A worker whose active jobs run this long while none settles and none is taken is `stalled`
   * (hung handlers, often with no `timeoutMs`): health reports it DEGRADED. @default 300_000
   */
  stalledAfterMs?: number;
  /** JetStream: how long a caller-supplied `jobId` deduplicates. @default 86_400_000 (a day) */
  dedupWindowMs?: number;
  /**
   * Finished jobs kept for `getJob` and `counts`: the newest this many completed, and as many
   * dead; older ones are removed from the store (dead ones stay in `rt.deadLetters`). The first
   * queue object of a name in a process sets it for that process's store and worker.
   * @default 10_000
   */
  keepFinished?: number;
  /** Metrics hooks. */
  observer?: QueueObserver;
  /**
   * A rate limit shared by every worker of the queue in every process: at most `max` jobs start in
   * any `durationMs` window (per value of `job.data[groupKey]` with `groupKey`). Every queue object
   * that processes the queue must be given the same limit. @default none
   */
  limiter?: QueueLimiterOptions;
}

/** Finished jobs kept per outcome unless a queue says otherwise. */
export const DEFAULT_KEEP_FINISHED = 10_000;

/** Every option with its default. */
export interface ResolvedQueueOptions extends Required<Omit<QueueOptions, 'observer' | 'limiter'>> {
  readonly observer: QueueObserver | undefined;
  readonly limiter: QueueLimiterOptions | undefined;
}

const count = z.number().int().min(1);
const ms = z.number().min(0).finite();
const optionsSchema = z.object({
  concurrency: count.optional(),
  maxAttempts: count.optional(),
  timeoutMs: ms.optional(),
  ackWaitMs: z.number().int().min(100).optional(),
  closeTimeoutMs: ms.optional(),
  stalledAfterMs: ms.optional(),
  dedupWindowMs: ms.optional(),
  keepFinished: z.number().int().min(0).optional(),
  limiter: limiterSchema.optional(),
});
/** The longest ordered-group name a job may carry (`add(…, { group })`, and a redriven dead letter's `jobgroup`). */
export const MAX_GROUP_LENGTH = 256;

const jobSchema = z.object({
  priority: z.enum(PRIORITIES as [string, ...string[]]).optional(),
  delayMs: ms.optional(),
  jobId: z.string().min(1).max(512).optional(),
  maxAttempts: count.optional(),
  group: z.string().min(1).max(MAX_GROUP_LENGTH).optional(),
});

function check<T>(schema: z.ZodType<T>, value: unknown, what: string): void {
  const r = schema.safeParse(value);
  if (!r.success) throw ValidationError.fromIssues(`invalid ${what}`, r.error.issues);
}

/**
 * Applies defaults.
 * @throws {ValidationError} when an option is out of range
 */
export function resolveQueueOptions(o: QueueOptions): ResolvedQueueOptions {
  check(optionsSchema, o, 'queue options');
  return {
    concurrency: o.concurrency ?? 1,
    maxAttempts: o.maxAttempts ?? 3,
    backoff: o.backoff ?? exponential({ initialMs: 1_000, maxMs: 60_000 }),
    timeoutMs: o.timeoutMs ?? 0,
    ackWaitMs: o.ackWaitMs ?? 30_000,
    closeTimeoutMs: o.closeTimeoutMs ?? 10_000,
    stalledAfterMs: o.stalledAfterMs ?? 300_000,
    dedupWindowMs: o.dedupWindowMs ?? 86_400_000,
    keepFinished: o.keepFinished ?? DEFAULT_KEEP_FINISHED,
    observer: o.observer,
    limiter: o.limiter,
  };
}

/**
 * A job as the store takes it; a per-job backoff is resolved to its delays here, so that any
 * worker in any process applies the same schedule.
 * @throws {ValidationError} when an option is out of range
 */
export function newJob(name: string, data: unknown, opts: JobOptions | undefined): NewJob {
  if (opts) check(jobSchema, opts, `options of job "${name}"`);
  const maxAttempts = opts?.maxAttempts;
  const backoff = opts?.backoff;
  return {
    id: opts?.jobId ?? uuidv7(),
    dedup: opts?.jobId !== undefined,
    name,
    data,
    priority: opts?.priority ?? 'normal',
    delayMs: opts?.delayMs ?? 0,
    maxAttempts,
    backoffMs: backoff && resolveDelays(backoff, maxAttempts ?? 25),
    ...(opts?.group !== undefined && { group: opts.group }),
  };
}

function resolveDelays(backoff: Backoff, maxAttempts: number): number[] {
  const out: number[] = [];
  for (let n = 1; n < Math.min(maxAttempts, 100); n++) out.push(Math.max(0, Math.round(backoff.delay(n))));
  return out;
}
