import type { Backoff } from '../retry/backoff.js';

/** Priority levels, highest first: a waiting job of a higher level is always taken before a lower one. */
export const JobPriority = {
  critical: 'critical',
  high: 'high',
  normal: 'normal',
  low: 'low',
} as const;
export type JobPriority = (typeof JobPriority)[keyof typeof JobPriority];

/** The levels in the order workers take them. */
export const PRIORITIES: readonly JobPriority[] = ['critical', 'high', 'normal', 'low'];

/**
 * Where a job is in a queue's store. `failed` means it will be retried; `dead` that it will not;
 * `cancelled` that `queue.cancel` ended it (never retried, no dead letter).
 */
export type StoredJobState = 'waiting' | 'delayed' | 'active' | 'completed' | 'failed' | 'dead' | 'cancelled';

/**
 * Where a job is in its life: a {@link StoredJobState}, or `waiting-children` for a flow's parent
 * (`queue.addFlow`) whose children have not all finished; it is not in the store yet.
 */
export type JobState = StoredJobState | 'waiting-children';

/** The finished states `queue.clean` removes records of. */
export type FinishedJobState = 'completed' | 'dead' | 'cancelled';

/** What `job.progress` records: a number (a percentage, say) or a JSON object. */
export type JobProgress = number | Readonly<Record<string, unknown>>;

/** Log lines kept per job (the newest); older ones are dropped. */
export const MAX_JOB_LOG_LINES = 100;
/** Characters kept per log line; a longer line is cut and ends with `…`. */
export const MAX_JOB_LOG_LINE = 1_000;

/** An error as jobs record it. */
export interface JobError {
  readonly name: string;
  readonly message: string;
}

/** Options of `queue.add`. */
export interface JobOptions {
  /** @default 'normal' */
  priority?: JobPriority;
  /** The job waits this long before it can be taken. @default 0 */
  delayMs?: number;
  /**
   * Dedup key and job id: adding a job whose id is already known is a no-op that returns the
   * existing id (memory: while the job is retained; JetStream: within the queue's dedup window).
   * @default a fresh UUID v7
   */
  jobId?: string;
  /** Total tries including the first. @default the queue's `maxAttempts` */
  maxAttempts?: number;
  /** Delay before each retry; resolved when the job is added. @default the queue's `backoff` */
  backoff?: Backoff;
  /**
   * An ordered group: jobs of one group run one at a time, in add order, across every worker and
   * process (a job that fails blocks its group through its retries until it completes or dies);
   * different groups run in parallel, up to each worker's `concurrency`. 1-256 characters.
   * @default none: the job runs as soon as a worker is free
   */
  group?: string;
}

/** One item of `queue.addBulk`. */
export interface BulkJob<D = unknown> {
  readonly name: string;
  readonly data: D;
  readonly opts?: JobOptions;
}

/** What a handler receives for one attempt. */
export interface Job<D = unknown> {
  readonly id: string;
  readonly name: string;
  readonly data: D;
  /** 1-based: this is the `attempt`-th try. */
  readonly attempt: number;
  readonly maxAttempts: number;
  readonly priority: JobPriority;
  /** Aborted when the attempt times out, the job is cancelled, or the queue closes before it settled. */
  readonly signal: AbortSignal;
  /**
   * Records the job's progress (the latest value is kept) and tells this queue's `progress`
   * listeners. Calls within one event-loop turn are written once, with the last value.
   * @throws {ValidationError} when `value` is neither a finite number nor a JSON object
   */
  progress(value: JobProgress): Promise<void>;
  /**
   * Appends a line to the job's log: the newest {@link MAX_JOB_LOG_LINES} are kept, each cut at
   * {@link MAX_JOB_LOG_LINE} characters. Lines of one event-loop turn are written together.
   * @throws {ValidationError} when `line` is not a string
   */
  log(line: string): Promise<void>;
  /**
   * A flow parent's completed children's results, keyed `<queue>/<childId>` (a child that died or
   * was cancelled is absent); `{}` for a job that is not a flow's parent. They came with the job.
   */
  childrenResults(): Promise<ChildrenResults>;
}

/** A job as `getJob` and the queue's events report it. */
export interface JobInfo<D = unknown> {
  readonly id: string;
  readonly name: string;
  readonly data: D;
  readonly state: JobState;
  readonly priority: JobPriority;
  /** Tries made so far. */
  readonly attempts: number;
  /** The error of the last failed try, if any. */
  readonly error?: JobError;
  /** What the handler returned, once completed. */
  readonly result?: unknown;
  /** The last value a handler gave `job.progress`, if any. */
  readonly progress?: JobProgress;
  /** The job's log lines, oldest first (the newest {@link MAX_JOB_LOG_LINES}). */
  readonly logs?: readonly string[];
  /** A flow parent's children, while it is `waiting-children`. */
  readonly children?: FlowChildrenInfo;
  /** A flow child's parent (`queue.addFlow`). */
  readonly parent?: { readonly queue: string; readonly id: string };
}

/** What `queue.clean` removes. */
export interface CleanOptions {
  /** Records of jobs that finished in this state. */
  readonly state: FinishedJobState;
  /** Only those finished at least this long ago. */
  readonly olderThanMs: number;
  /** At most this many per call; call again for more. @default 10_000 */
  readonly limit?: number;
}

/** How many jobs are in each state. */
export interface JobCounts {
  waiting: number;
  delayed: number;
  active: number;
  completed: number;
  failed: number;
  dead: number;
  cancelled: number;
  /** True while the queue is paused (`queue.pause()`): no worker of any process takes jobs. */
  paused: boolean;
}

/** What `add` resolves with. */
export interface AddedJob {
  readonly id: string;
  /** True when a job with this id was already known; nothing new was stored. */
  readonly duplicate?: boolean;
}

/**
 * Called as jobs move; the metrics layer plugs in here. Calls are synchronous and must be cheap.
 * `durationMs` is the handler's run time of the attempt that settled.
 */
export interface QueueObserver {
  onAdded?(queue: string, count: number): void;
  onActive?(queue: string): void;
  onCompleted?(queue: string, durationMs: number, attempts: number): void;
  onFailed?(queue: string, durationMs: number, attempt: number, reason: 'handler' | 'timeout'): void;
  onDead?(queue: string, attempts: number, reason: 'handler' | 'timeout'): void;
}

/** Events of a queue and what their listeners receive. */
export interface QueueEvents<D = unknown> {
  completed: (job: JobInfo<D>) => void;
  /** A try failed and the job will be retried after its backoff. */
  failed: (job: JobInfo<D>) => void;
  /** The job exhausted its attempts and is in the dead-letter store. */
  dead: (job: JobInfo<D>) => void;
  /** A job this queue object's worker runs reported progress or logged (once per event-loop turn). */
  progress: (job: JobInfo<D>) => void;
  /** A job this queue object's worker ran was cancelled (`queue.cancel`), wherever it was asked. */
  cancelled: (job: JobInfo<D>) => void;
}

/**
 * The results of a parent's completed children, keyed `<queue>/<childId>` (like BullMQ's
 * `getChildrenValues`). A child that died or was cancelled is absent.
 */
export type ChildrenResults = Record<string, unknown>;

/** A parent's children as `getJob` reports them while it waits, and after. */
export interface FlowChildrenInfo {
  readonly total: number;
  /** Children not yet completed, dead or cancelled. */
  readonly pending: number;
  /** Children that died or were cancelled. */
  readonly failed: number;
}
