import type { Env } from '../env.js';
import type { Backoff } from '../retry/backoff.js';
import type { Job, JobInfo, QueueObserver } from './types.js';

/** A queue's handler. */
export type JobHandler<D = unknown> = (job: Job<D>) => unknown;

/** What a runner needs from its queue. */
export interface RunnerOptions extends Env {
  readonly queue: string;
  readonly handler: JobHandler;
  readonly maxAttempts: number;
  readonly backoff: Backoff;
  readonly timeoutMs: number;
  readonly observer: QueueObserver | undefined;
  /** Called when a job is taken or settles (after `lastProgress` moved). */
  readonly onProgress?: () => void;
  /** Reports a settled job to the queue's listeners; `undefined` when nobody listens. */
  readonly emit: (
    state: 'completed' | 'failed' | 'dead' | 'cancelled' | 'progress',
    info: () => JobInfo,
  ) => void;
}
