import { ValidationError } from '../errors.js';
import type { JobRunner } from './runner.js';
import type { CleanOptions } from './types.js';

/**
 * A cancel notice reached this worker: the job's actor ends `cancelled` when the worker holds it.
 * @returns whether it held the job
 */
export function cancelHeld(runner: JobRunner, id: string): boolean {
  for (const held of runner.active.values())
    if (held.lease.job.id === id) {
      held.cancel();
      return true;
    }
  return false;
}

const FINISHED = new Set(['completed', 'dead', 'cancelled']);

/** @throws {ValidationError} for options `queue.clean` cannot take */
export function checkClean(o: CleanOptions): void {
  if (!FINISHED.has(o.state)) throw new ValidationError(`clean: unknown finished state "${String(o.state)}"`);
  if (!(Number.isFinite(o.olderThanMs) && o.olderThanMs >= 0))
    throw new ValidationError('clean: olderThanMs must be a finite number >= 0');
  if (o.limit !== undefined && !(Number.isInteger(o.limit) && o.limit > 0))
    throw new ValidationError('clean: limit must be a positive integer');
}
