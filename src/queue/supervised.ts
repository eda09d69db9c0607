import type { Queue } from './queue.js';
import type { Supervisor } from '../actors/supervisor/supervisor.js';
import type { RestartPolicy, SupervisedChild } from '../actors/supervisor/types.js';

/**
 * Puts a job queue under supervision: a queue whose store or worker could not be opened (its
 * status is `failed`) is opened again with backoff, and reports `failed` for good once its restart
 * policy gives up. Its status (`working`, `starting`, …) is its state in health reports; once
 * closed it leaves supervision.
 * @param id - unique among the supervisor's children, e.g. `queue:emails`
 * @example
 * superviseQueue(supervisor, 'queue:emails', rt.queue('emails'));
 */
export function superviseQueue(
  supervisor: Supervisor,
  id: string,
  queue: Queue,
  policy: RestartPolicy | false = {},
): void {
  const child: SupervisedChild = {
    id,
    kind: 'queue',
    state: () => queue.status(),
    restart: () => queue.reopen(),
    halt: () => queue.close(),
  };
  void queue.whenClosed().then(() => supervisor.stop(id));
  const entry = supervisor.add(child, policy, () => {
    const err = queue.status() === 'failed' ? queue.failedWith() : undefined;
    return err && { name: err.name, message: `queue ${queue.name}: ${err.message}` };
  });
  queue.onStatusChange(() => entry.changed());
}
