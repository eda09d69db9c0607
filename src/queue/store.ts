import type { Transport } from '../transport/transport.js';
import type { ChildrenResults, JobFlowLink } from './flow-types.js';
import type {
  AddedJob,
  CleanOptions,
  JobCounts,
  JobError,
  JobInfo,
  JobPriority,
  JobProgress,
} from './types.js';

/**
 * The contract between a queue and the place its jobs live. A transport that offers job queues
 * implements {@link QueueTransport}; the memory and JetStream stores both run one conformance suite
 * (`test/queue/store.conformance.test.ts`). Each obligation below is something a `Queue` relies on.
 */

/** A job on its way into the store. */
export interface NewJob {
  readonly id: string;
  /**
   * True when the caller chose the id. The store must then deduplicate it: adding a job whose id it
   * still knows (memory: while the job is retained; JetStream: within `dedupWindowMs`) stores
   * nothing and answers `duplicate: true`. Generated ids are unique and need no check.
   */
  readonly dedup: boolean;
  readonly name: string;
  readonly data: unknown;
  readonly priority: JobPriority;
  /** The job must not be handed out before this many ms have passed ("never early"). */
  readonly delayMs: number;
  readonly maxAttempts: number | undefined;
  /** Resolved per-job backoff: `backoffMs[n - 1]` is the wait after try `n`. */
  readonly backoffMs: readonly number[] | undefined;
  /**
   * The job's ordered group (`add(name, data, { group })`). The store must hand out the jobs of one
   * group one at a time, in add order, across every worker and process: the next only once the one
   * before completed, died or was cancelled or removed; a job backing off between tries keeps its
   * group waiting. Jobs of different groups are handed out in parallel. A store that cannot keep
   * this rejects the add with a `TransportError`.
   */
  readonly group?: string;
  /**
   * How the job takes part in a flow (`queue.addFlow`). The store must keep it with the job through
   * every step (retries included) and hand it out as `StoredJob.flow` on every delivery; a job's
   * dead letter need not keep it. Opaque to the store.
   */
  readonly flow?: JobFlowLink;
}

/** A stored job handed to a worker. */
export interface StoredJob {
  readonly id: string;
  readonly name: string;
  readonly data: unknown;
  readonly priority: JobPriority;
  /** Tries made before this one: attempts live in the job's record, not in a broker's delivery count. */
  readonly attemptsMade: number;
  readonly maxAttempts: number | undefined;
  readonly backoffMs: readonly number[] | undefined;
  /**
   * How many times the store has handed out this record, this time included. A store with
   * redelivery must report it, so that a job whose worker dies mid-try every time ends `dead`
   * instead of looping; stores without redelivery leave it out.
   */
  readonly deliveries?: number;
  /**
   * The job's retry-job actor as the last worker persisted it (`getPersistedSnapshot()`), stored
   * with a retry: the next worker resumes it, backoff due time and attempts included. Opaque to
   * the store; absent for a job that never failed.
   */
  readonly machine?: unknown;
  /** Progress and log lines the job's earlier tries left (the store's latest {@link JobNotes}). */
  readonly notes?: JobNotes;
  /** The job's part in a flow, as it was added ({@link NewJob.flow}). */
  readonly flow?: JobFlowLink;
  /**
   * The job's ordered group ({@link NewJob.group}). A store with groups must hand it out, so that
   * the job's dead letter keeps it and a redrive puts the job back at the end of its group.
   */
  readonly group?: string;
}

/** A job's progress and log lines, as a running try last reported them (whole, not a delta). */
export interface JobNotes {
  readonly progress?: JobProgress;
  /** Oldest first, already bounded by the caller (`MAX_JOB_LOG_LINES`, `MAX_JOB_LOG_LINE`). */
  readonly logs?: readonly string[];
}

/** Job counts as a store keeps them; the queue adds whether it is paused. */
export type StoreCounts = Omit<JobCounts, 'paused'>;

/** Why a job died. */
export type JobDeathReason = 'handler' | 'timeout';

/**
 * A step that must be durable before a lease's outcome is (a flow child's outcome, recorded toward
 * its parent). The store runs it once the lease settled and stores the outcome (and acks) only after
 * it resolved; when it rejects, the job comes back untried, as after `release`. The store may free
 * the worker's slot while it runs.
 */
export type SettleHook = () => Promise<void>;

/**
 * A worker's hold on one job. It settles once: `complete`, `retry`, `dead` or `release`; later
 * calls are ignored. Until it settles the store must not hand the job to anyone else, unless the
 * worker goes silent (no `working()` within the ack wait), in which case the job comes back.
 */
export interface JobLease {
  readonly job: StoredJob;
  /** Done: the job is completed with `result` (kept for `getJob` up to `keepFinished`). */
  complete(result: unknown, before?: SettleHook): void;
  /**
   * Try `attemptsMade + 2` after `delayMs`; the store keeps the job durably meanwhile, with `error`
   * and `machine` (the job actor's persisted snapshot, handed out again as `StoredJob.machine`).
   */
  retry(delayMs: number, error: JobError, machine?: unknown): void;
  /**
   * Out of attempts (`attempts` tries made in all): the store writes the job's dead letter (see
   * `queue/dead-letter.ts` for its shape, group `queue:<name>`) before the job leaves the live path,
   * so that `rt.deadLetters.redrive` puts the same job back into this queue with fresh attempts.
   */
  dead(error: JobError, reason: JobDeathReason, attempts: number, before?: SettleHook): void;
  /** Hands the job back untried (the worker is closing): the next worker takes it as it was. */
  release(): void;
  /**
   * Hands the job back untried, to be handed out again no sooner than `delayMs` from now (the
   * queue's rate limit for its group is spent): no try is counted, and the hand-back must not count
   * as a delivery in `StoredJob.deliveries` either, so that a job put back often never looks stalled.
   * Meanwhile the job is `delayed`. Optional: without it the queue calls `release`.
   */
  defer?(delayMs: number): void;
  /**
   * Cancelled (`queue.cancel`) after `attempts` tries: the job ends `cancelled`, is never retried and
   * has no dead letter; the store keeps its record like a finished one (up to `keepFinished`).
   */
  cancel(attempts: number, before?: SettleHook): void;
  /**
   * The job's progress and logs as they are now. Called at most once per event-loop turn, and once
   * more before the lease settles, so the store may write each call: `getJob` must show the latest
   * (also once the job finished), and a retry must carry it to the next try as `StoredJob.notes`.
   * Calls after the lease settled are ignored.
   */
  note(notes: JobNotes): void;
  /** Still working: extends the broker's ack deadline. */
  working(): void;
  /**
   * A released flow parent's children's results; the queue's flow layer offers it (stores do not).
   * @internal
   */
  childrenResults?(): Promise<ChildrenResults>;
}

/** Receives leases, called synchronously by the store; never more unsettled than `concurrency`. */
export interface JobSink {
  take(lease: JobLease): void;
  /**
   * A cancel notice for job `id` (from `queue.cancel` in any process): when the sink holds it, its
   * try is aborted and its lease settles with `cancel`. Stores call it on every worker of the queue
   * that may hold the job. @returns whether this sink held the job
   */
  cancel?(id: string): boolean;
}

/** What a worker asks the store for. */
export interface WorkerSpec {
  readonly concurrency: number;
  /** The queue is paused as the worker starts: it takes nothing until `pause(false)`. @default false */
  readonly paused?: boolean;
}

/** A running worker's connection to the store. */
export interface QueueWorker {
  /** Resolves once jobs flow. */
  readonly ready: Promise<void>;
  /** Stops taking jobs; jobs fetched but not yet handed out go back. Idempotent. */
  stop(): Promise<void>;
  /**
   * Paused (`true`): hands out no new job until resumed; active ones run on, and jobs fetched ahead
   * go back to the store. The queue calls it when its shared pause state changes. Idempotent.
   */
  pause(paused: boolean): void;
}

/** Options a queue hands its store. */
export interface QueueStoreOptions {
  /** How long the broker waits for a settle or heartbeat before another worker gets the job. */
  readonly ackWaitMs: number;
  /** How long a caller-supplied job id deduplicates on brokers with a window. */
  readonly dedupWindowMs: number;
  /** Finished jobs kept per outcome (completed, dead, cancelled); older ones are removed. */
  readonly keepFinished: number;
}

/**
 * Where a queue's jobs live: in memory, or on JetStream. A store is shared by every queue object
 * of that name on the transport; workers compete for its jobs, highest priority first, and a
 * waiting job is handed to exactly one worker at a time.
 */
export interface QueueStore {
  readonly queue: string;
  /** Stores the jobs and resolves once they are durable, in order. */
  add(jobs: readonly NewJob[]): Promise<AddedJob[]>;
  /** @returns the job's current state, or undefined once it is no longer known (never added, or swept) */
  getJob(id: string): Promise<JobInfo | undefined>;
  /** @returns jobs per state across every worker of every process */
  counts(): Promise<StoreCounts>;
  /**
   * Removes a job that no worker holds (waiting, delayed, backing off, or finished) with its record,
   * progress and logs: `getJob` no longer knows it. Idempotent.
   * @returns false when the job is active (see `cancel`) or not known
   */
  remove(id: string): Promise<boolean>;
  /**
   * Ends a live job `cancelled`: one no worker holds at once (its live message goes, a `cancelled`
   * record takes its place); an active one through a cancel notice to every worker of the queue in
   * any process ({@link JobSink.cancel}), whose holder aborts its try. Never retried, no dead letter.
   * Two cancels of one job at once are harmless (both may answer true).
   * @returns true when the job was live; false when it is unknown or already finished
   */
  cancel(id: string): Promise<boolean>;
  /**
   * Removes records of jobs that finished in `state` at least `olderThanMs` ago, oldest first, at most
   * `limit`. Idempotent: a record two cleans remove at once is counted by one of them.
   * @returns how many job records this call removed
   */
  clean(options: CleanOptions): Promise<number>;
  work(spec: WorkerSpec, sink: JobSink): QueueWorker;
  /** Releases what this store holds (timers, consumers). Idempotent. */
  close(): Promise<void>;
}

/** A transport that hosts job queues. */
export interface QueueTransport extends Transport {
  /** The store of the job queue `name`, provisioned on first use. */
  queueStore(name: string, options: QueueStoreOptions): Promise<QueueStore>;
}

/** @returns true when `transport` hosts job queues */
export function hasQueues(transport: Transport): transport is QueueTransport {
  return typeof (transport as Partial<QueueTransport>).queueStore === 'function';
}

/** @deprecated the former name of {@link QueueStore} */
export type QueueBackend = QueueStore;
/** @deprecated the former name of {@link QueueStoreOptions} */
export type QueueBackendOptions = QueueStoreOptions;
