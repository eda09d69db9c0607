import type { CloudEvent } from '../events/cloudevent.js';
import { isoTime } from '../events/ids.js';
import type { DeadLetterDraft } from '../transport/dead-letters.js';
import type { ChildrenResults } from './flow-types.js';
import { MAX_GROUP_LENGTH } from './options.js';
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
 * The most of a flow parent's children's results, as JSON, that its dead letter keeps (the
 * `jobchildren` extension). A letter must fit one NATS message with the job's data and the error
 * beside it; a parent whose results are larger is redriven without them.
 */
export const MAX_DEAD_LETTER_RESULTS_BYTES = 256 * 1024;

/**
 * The job a redriven dead letter puts back into its queue: the same id, name, data, priority and
 * attempt limit, with fresh attempts. A per-job backoff is not kept; the queue's default applies.
 * A flow parent comes back with the children's results its letter kept, and runs with them; a job
 * of an ordered group comes back at the end of its group.
 */
export function jobFromDeadLetter(event: CloudEvent): NewJob {
  const priority = PRIORITIES.includes(event.jobpriority as JobPriority)
    ? (event.jobpriority as JobPriority)
    : 'normal';
  const results = childrenResultsOf(event.jobchildren);
  const group = groupOf(event.jobgroup);
  return {
    id: event.id,
    dedup: false,
    name: typeof event.jobname === 'string' ? event.jobname : event.type,
    data: event.data,
    priority,
    delayMs: 0,
    maxAttempts: typeof event.jobmaxattempts === 'number' ? event.jobmaxattempts : undefined,
    backoffMs: undefined,
    ...(results && { flow: { released: { results } } }),
    ...(group !== undefined && { group }),
  };
}

/** The group a `jobgroup` extension names, held to what `add` takes; undefined for anything else. */
function groupOf(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 && value.length <= MAX_GROUP_LENGTH
    ? value
    : undefined;
}

/** The results a `jobchildren` extension holds: undefined when there is none, or it is not a JSON object. */
function childrenResultsOf(value: unknown): ChildrenResults | undefined {
  if (typeof value !== 'string') return undefined;
  try {
    const parsed: unknown = JSON.parse(value);
    return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)
      ? (parsed as ChildrenResults)
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A flow parent's children's results as its dead letter keeps them: JSON text (a CloudEvents
 * extension holds no objects), or undefined when there are none or they are over
 * {@link MAX_DEAD_LETTER_RESULTS_BYTES}.
 */
function keptChildrenResults(job: StoredJob): string | undefined {
  const results = job.flow?.released?.results;
  if (!results || Object.keys(results).length === 0) return undefined;
  const text = JSON.stringify(results);
  return Buffer.byteLength(text) <= MAX_DEAD_LETTER_RESULTS_BYTES ? text : undefined;
}

/** The dead-letter group of a queue's jobs: `rt.deadLetters.list({ group: deadLetterGroup('emails') })`. */
export function deadLetterGroup(queue: string): string {
  return `queue:${queue}`;
}

/**
 * The dead letter of a job that exhausted its attempts: the job as a CloudEvent whose `id` is the
 * job id, `type` the job name (made subject-safe), and `data` the job's data; the `jobname` and
 * `jobmaxattempts` extensions keep what a redrive needs to put the job back as it was,
 * `jobchildren` a released flow parent's children's results, and `jobgroup` its ordered group.
 */
export function jobDeadLetter(
  queue: string,
  job: StoredJob,
  error: JobError,
  reason: JobDeathReason,
  attempts: number,
  now: number,
): DeadLetterDraft {
  const children = keptChildrenResults(job);
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
    ...(children !== undefined && { jobchildren: children }),
    ...(job.group !== undefined && { jobgroup: job.group }),
  };
  return { event, reason, error, attempts, group: deadLetterGroup(queue) };
}
