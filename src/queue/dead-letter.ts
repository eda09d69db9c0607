import type { CloudEvent } from '../events/cloudevent.js';
import { isoTime } from '../events/ids.js';
import type { DeadLetterDraft } from '../transport/dead-letters.js';
import type { JobDeathReason, StoredJob } from './backend.js';
import type { JobError } from './types.js';

const SUBJECT_SAFE = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;

/** The dead-letter group of a queue's jobs: `rt.deadLetters.list({ group: deadLetterGroup('emails') })`. */
export function deadLetterGroup(queue: string): string {
  return `queue:${queue}`;
}

/**
 * The dead letter of a job that exhausted its attempts: the job as a CloudEvent whose `id` is the
 * job id, `type` the job name (made subject-safe), and `data` the job's data; the `jobname` and
 * `jobmaxattempts` extensions keep what a redrive needs to put the job back as it was.
 */
export function jobDeadLetter(
  queue: string,
  job: StoredJob,
  error: JobError,
  reason: JobDeathReason,
  attempts: number,
  now: number,
): DeadLetterDraft {
  const event: CloudEvent = {
    specversion: '1.0',
    id: job.id,
    source: `bulwark/queue/${queue}`,
    type: SUBJECT_SAFE.test(job.name) ? job.name : job.name.replace(/[^A-Za-z0-9_-]/g, '_') || '_',
    time: isoTime(now),
    datacontenttype: 'application/json',
    data: job.data,
    // Extensions, so that a redriven dead letter goes back into its queue as the same job.
    jobname: job.name,
    ...(job.maxAttempts !== undefined && { jobmaxattempts: job.maxAttempts }),
  };
  return { event, reason, error, attempts, group: deadLetterGroup(queue) };
}
