import { ValidationError } from '../errors.js';
import { CANCELLED } from './flow-leases.js';
import type { Flows } from './flows.js';
import type { JobRunner } from './runner.js';
import type { QueueStore } from './store.js';
import type { CleanOptions, JobInfo, JobState } from './types.js';

const REMOVED = { name: 'RemovedError', message: 'the job was removed' } as const;
/** States of a job no worker holds that `remove` takes away: a flow child in one leaves through `removeChild`. */
const UNHELD: ReadonlySet<JobState> = new Set(['waiting', 'delayed', 'failed', 'cancelled']);

/**
 * `queue.remove`: a job no worker holds goes, and a flow's parent hears of a child that left.
 * @returns true when it was removed; false when it is active or not known
 */
export async function removeJob(store: QueueStore, flows: Flows, id: string): Promise<boolean> {
  const before = await store.getJob(id);
  if (before?.parent && UNHELD.has(before.state)) return removeChild(store, flows, before);
  if (!(await store.remove(id))) return flows.dropWaiting(id, REMOVED);
  await flows.childLeft(before, REMOVED);
  return true;
}

/**
 * A flow child leaves as `cancelled` first, a record that keeps its parent link; its parent hears
 * of it; then the record goes. A remove retried after the parent's write failed finds the record
 * and tells the parent again (telling twice changes nothing), where a record already gone would
 * leave the parent waiting for ever.
 */
async function removeChild(store: QueueStore, flows: Flows, child: JobInfo): Promise<boolean> {
  if (child.state !== 'cancelled') await store.cancel(child.id);
  await flows.childLeft(child, REMOVED);
  return store.remove(child.id);
}

/**
 * `queue.cancel`: a live job ends `cancelled`, and a flow's parent hears of it.
 * @returns true when the job was live; false when it is not known or already finished
 */
export async function cancelJob(store: QueueStore, flows: Flows, id: string): Promise<boolean> {
  const before = await store.getJob(id);
  if (!(await store.cancel(id))) {
    // A cancel retried after its parent was not told (that write failed): tell it now.
    if (before?.state === 'cancelled' && before.parent) await flows.childLeft(before, CANCELLED);
    return before ? false : flows.dropWaiting(id, CANCELLED);
  }
  // A worker that held it tells the parent too: recording a child twice changes nothing.
  await flows.childLeft(before, CANCELLED);
  return true;
}

/**
 * A cancel notice reached this worker: the job's actor ends `cancelled` when the worker holds it.
 * @returns whether it held the job
 */
export function cancelHeld(runner: JobRunner, id: string): boolean {
  const held = runner.held(id);
  held?.cancel();
  return held !== undefined;
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
