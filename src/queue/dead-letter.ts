import type { CloudEvent } from '../events/cloudevent.js';
import { isoTime } from '../events/ids.js';
import type { DeadLetterDraft } from '../transport/dead-letters.js';
import type { JobDeathReason, NewJob, StoredJob } from './store.js';
import { PRIORITIES, type JobError, type JobPriority } from './types.js';

/**
 * The protocol between a queue's jobs and the dead-letter store, which both transports follow: a job
 * that exhausted its attempts becomes a dead letter in the group `queue:<name>` (see
 * {@link jobDeadLetter}), and redriving that letter puts the same job back into its queue with fresh
 * attempts (see {@link jobFromDeadLetter}).
 */

const SUBJECT_SAFE = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;

/** @returns the queue a dead-letter group belongs to, or undefined for an event subscriber's group */
export function queueOfGroup(group: string): string | undefined {
  return group.startsWith('queue:') ? group.slice('queue:'.length) : undefined;
}

/** @returns true when a record read from a queue's live path is a redriven dead letter, not a job record */
export function isRedrivenJob(value: unknown): value is CloudEvent {
  return (value as { specversion?: unknown } | null)?.specversion === '1.0';
}

/**
 * The job a redriven dead letter puts back into its queue: the same id, name, data, priority and
 * attempt limit, with fresh attempts. A per-job backoff is not kept; the queue's default applies.
 */
export function jobFromDeadLetter(event: CloudEvent): NewJob {
  const priority = PRIORITIES.includes(event.jobpriority as JobPriority)
    ? (event.jobpriority as JobPriority)
    : 'normal';
  return {
    id: event.id,
    dedup: false,
    name: typeof event.jobname === 'string' ? event.jobname : event.type,
    data: event.data,
    priority,
    delayMs: 0,
    maxAttempts: typeof event.jobmaxattempts === 'number' ? event.jobmaxattempts : undefined,
    backoffMs: undefined,
  };
}

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
    jobpriority: job.priority,
    ...(job.maxAttempts !== undefined && { jobmaxattempts: job.maxAttempts }),
  };
  return { event, reason, error, attempts, group: deadLetterGroup(queue) };
}
