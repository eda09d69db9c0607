import type { ActorInfo } from '../../actors/supervisor/types.js';
import type { JobInfo, JobProgress } from '../../queue/types.js';

/** An active job's latest progress, as the dashboard draws its bar. */
export interface JobProgressRow {
  readonly id: string;
  readonly name: string;
  /** A number is a percentage (a bar); an object is shown as it is. */
  readonly progress: JobProgress;
}

/** The part of a queue whose active jobs' progress the dashboard follows. */
export interface ProgressSource {
  readonly name: string;
  /** The job actors this process's worker holds (`job:<queue>/<id>`). */
  jobActors?(): readonly ActorInfo[];
  getJob?(id: string): Promise<JobInfo | undefined>;
  on?(event: 'progress', listener: (job: JobInfo) => void): () => void;
}

/** Active jobs with progress listed per queue. */
export const PROGRESS_SHOWN = 20;

/** Progress values kept per queue between two reads; the oldest go first. */
const MAX_KEPT = 1_000;

interface Followed {
  readonly off: () => void;
  /** By job id: the latest progress, or null when the job had none when looked up. */
  readonly latest: Map<string, { readonly name: string; readonly progress: JobProgress } | null>;
}

/**
 * The progress of the jobs this process's workers run, for the dashboard: it follows each queue's
 * `progress` event from the first read on, and looks up (once) the jobs already active then, whose
 * progress it did not see. So a read costs no store call for jobs it has seen, and a job that never
 * reports progress is never looked up again. Jobs running in other processes are not shown.
 */
export class JobProgressBoard {
  private readonly followed = new Map<ProgressSource, Followed>();
  private closed = false;

  /** @returns the queue's active jobs that reported progress, the first {@link PROGRESS_SHOWN} */
  async rows(queue: ProgressSource): Promise<JobProgressRow[]> {
    if (!queue.jobActors || !queue.on || this.closed) return [];
    const first = !this.followed.has(queue);
    const f = this.follow(queue, queue.on.bind(queue));
    const active = activeJobIds(queue.name, queue.jobActors());
    for (const id of f.latest.keys()) if (!active.has(id)) f.latest.delete(id);
    const shown = [...active].slice(0, PROGRESS_SHOWN);
    if (first && queue.getJob) await this.lookUp(queue.getJob.bind(queue), f, shown);
    return shown.flatMap((id) => {
      const seen = f.latest.get(id);
      return seen ? [{ id, ...seen }] : [];
    });
  }

  /** Stops following every queue, for good; idempotent. */
  close(): void {
    this.closed = true;
    this.forget([]);
  }

  /** Stops following the queues not in `queues` (closed ones). */
  forget(queues: readonly ProgressSource[]): void {
    const keep = new Set(queues);
    for (const [q, f] of this.followed)
      if (!keep.has(q)) {
        f.off();
        this.followed.delete(q);
      }
  }

  private follow(queue: ProgressSource, on: NonNullable<ProgressSource['on']>): Followed {
    let f = this.followed.get(queue);
    if (f) return f;
    const latest: Followed['latest'] = new Map();
    const off = on('progress', (job) => {
      if (job.progress === undefined) return;
      latest.delete(job.id);
      latest.set(job.id, { name: job.name, progress: job.progress });
      if (latest.size > MAX_KEPT) latest.delete(latest.keys().next().value!);
    });
    f = { off, latest };
    this.followed.set(queue, f);
    return f;
  }

  /** Reads the stored progress of jobs that were active before the queue was followed. */
  private async lookUp(getJob: NonNullable<ProgressSource['getJob']>, f: Followed, ids: string[]) {
    const unseen = ids.filter((id) => !f.latest.has(id));
    const jobs = await Promise.all(unseen.map((id) => getJob(id).catch(() => undefined)));
    jobs.forEach((job, i) => {
      const id = unseen[i]!;
      // A progress event that came in meanwhile is newer than the stored value.
      if (f.latest.has(id)) return;
      f.latest.set(id, job?.progress === undefined ? null : { name: job.name, progress: job.progress });
    });
  }
}

/** The ids of the jobs whose actors run a try now (state `active.*`). */
function activeJobIds(queue: string, actors: readonly ActorInfo[]): Set<string> {
  const prefix = `job:${queue}/`;
  const ids = new Set<string>();
  for (const a of actors)
    if (a.id.startsWith(prefix) && a.state.startsWith('active')) ids.add(a.id.slice(prefix.length));
  return ids;
}
