import type { AddedJob, JobCounts, JobError, JobInfo, JobPriority } from './types.js';

/** A job on its way into the store. */
export interface NewJob {
  readonly id: string;
  /** True when the caller chose the id: the store must deduplicate it. */
  readonly dedup: boolean;
  readonly name: string;
  readonly data: unknown;
  readonly priority: JobPriority;
  readonly delayMs: number;
  readonly maxAttempts: number | undefined;
  /** Resolved per-job backoff: `backoffMs[n - 1]` is the wait after try `n`. */
  readonly backoffMs: readonly number[] | undefined;
}

/** A stored job handed to a worker. */
export interface StoredJob {
  readonly id: string;
  readonly name: string;
  readonly data: unknown;
  readonly priority: JobPriority;
  /** Tries made before this one. */
  readonly attemptsMade: number;
  readonly maxAttempts: number | undefined;
  readonly backoffMs: readonly number[] | undefined;
  /** How many times the store has handed out this record, this time included; stores without redelivery leave it out. */
  readonly deliveries?: number;
}

/** Why a job died. */
export type JobDeathReason = 'handler' | 'timeout';

/**
 * A worker's hold on one job. It settles once: `complete`, `retry`, `dead` or `release`;
 * later calls are ignored.
 */
export interface JobLease {
  readonly job: StoredJob;
  /** Done: the job is completed with `result`. */
  complete(result: unknown): void;
  /** Try `attemptsMade + 2` after `delayMs`; the store keeps the job durably meanwhile. */
  retry(delayMs: number, error: JobError): void;
  /** Out of attempts (`attempts` tries made in all): into the dead-letter store, then off the live path. */
  dead(error: JobError, reason: JobDeathReason, attempts: number): void;
  /** Hands the job back untried (the worker is closing): the next worker takes it as it was. */
  release(): void;
  /** Still working: extends the broker's ack deadline. */
  working(): void;
}

/** Receives leases, called synchronously by the store; never more unsettled than `concurrency`. */
export interface JobSink {
  take(lease: JobLease): void;
}

/** What a worker asks the store for. */
export interface WorkerSpec {
  readonly concurrency: number;
}

/** A running worker's connection to the store. */
export interface QueueWorker {
  /** Resolves once jobs flow. */
  readonly ready: Promise<void>;
  /** Stops taking jobs; jobs fetched but not yet handed out go back. Idempotent. */
  stop(): Promise<void>;
}

/** Options a queue hands its store. */
export interface QueueBackendOptions {
  /** How long the broker waits for a settle or heartbeat before another worker gets the job. */
  readonly ackWaitMs: number;
  /** How long a caller-supplied job id deduplicates on brokers with a window. */
  readonly dedupWindowMs: number;
  /** Finished jobs kept per outcome (completed, dead); older ones are removed. */
  readonly keepFinished: number;
}

/**
 * Where a queue's jobs live: in memory, or on JetStream. A store is shared by every queue object
 * of that name on the transport; workers compete for its jobs.
 */
export interface QueueBackend {
  readonly queue: string;
  /** Stores the jobs and resolves once they are durable, in order. */
  add(jobs: readonly NewJob[]): Promise<AddedJob[]>;
  getJob(id: string): Promise<JobInfo | undefined>;
  counts(): Promise<JobCounts>;
  work(spec: WorkerSpec, sink: JobSink): QueueWorker;
  /** Releases what this store holds (timers, consumers). Idempotent. */
  close(): Promise<void>;
}
