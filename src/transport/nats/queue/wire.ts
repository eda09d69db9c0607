import { isRedrivenJob, jobFromDeadLetter } from '../../../queue/dead-letter.js';
import type { JobNotes, NewJob } from '../../../queue/store.js';
import type { JobFlowLink } from '../../../queue/flow-types.js';
import type { JobError, JobPriority, JobProgress } from '../../../queue/types.js';
import { utf8Bytes } from '../../../bytes.js';

const decoder = new TextDecoder();

/**
 * What a JetStream queue stores, in one stream per queue. Every message about a job sits on
 * `<prefix>.q.<queue>.<job>.<kind>`; the stream keeps one message per subject, so the last message
 * under `<prefix>.q.<queue>.<job>.*` is the job's current state:
 * a priority kind (waiting or active), `later` (delayed), `backoff` (failed, backing off), `done`,
 * `dead` or `cancelled`.
 */
export const JobKind = {
  critical: 'critical',
  high: 'high',
  normal: 'normal',
  low: 'low',
  /** Parked by a version before due-time parking: drained through their consumers (see `parked.ts`). */
  delayed: 'delayed',
  retry: 'retry',
  /** Parked by due time (see `due.ts`): a delayed job, and a failed one backing off. */
  later: 'later',
  backoff: 'backoff',
  done: 'done',
  dead: 'dead',
  cancelled: 'cancelled',
} as const;
export type JobKind = (typeof JobKind)[keyof typeof JobKind];

/**
 * A job's progress and logs sit on `<prefix>.q.<queue>.<job>.x.progress` and `….x.logs`, one message
 * each (the latest): two tokens deep, so the job's state subjects (`<job>.*`) never match them.
 */
export const NoteKind = { progress: 'x.progress', logs: 'x.logs' } as const;

/**
 * The consumers that only count jobs: finished ones in the queue's stream, and those parked by due
 * time in its parked stream (see `due.ts`).
 */
export const COUNT_CONSUMERS = {
  done: 'count_done',
  dead: 'count_dead',
  cancelled: 'count_cancelled',
  later: 'count_later',
  backoff: 'count_backoff',
} as const;

/** The finished kinds, whose records `getJob` and `counts` read. */
export const FINISHED_KINDS = [JobKind.done, JobKind.dead, JobKind.cancelled] as const;

/** A job waiting or parked: the body of priority, `delayed` and `retry` messages. */
export interface JobWire {
  readonly v: 1;
  readonly id: string;
  readonly n: string;
  readonly d: unknown;
  readonly p: JobPriority;
  /** Tries made so far: attempts live in the record, not in the broker's delivery count. */
  readonly a: number;
  readonly m?: number;
  readonly b?: readonly number[];
  /** The last try's error. */
  readonly e?: JobError;
  /** Epoch ms before which a parked job must not run. */
  readonly due?: number;
  /** The job actor's persisted snapshot from its last failed try (resumed by the next worker). */
  readonly s?: unknown;
  /** Progress an earlier try left (carried with a retry). */
  readonly g?: JobProgress;
  /** Log lines earlier tries left (carried with a retry). */
  readonly l?: readonly string[];
  /** The job's part in a flow (carried with every step). */
  readonly f?: JobFlowLink;
  /**
   * The ordered group a job added with a delay joins once due. A group's head parked by the limiter
   * has none (it carries its group as `r`, and goes on as the head).
   */
  readonly jg?: string;
}

/** @returns the notes a job record carries, if any */
export function notesOf(job: JobWire): JobNotes | undefined {
  if (job.g === undefined && job.l === undefined) return undefined;
  return { ...(job.g !== undefined && { progress: job.g }), ...(job.l && { logs: job.l }) };
}

/** The body of `done` and `dead` messages (the data stays on the job's priority message). */
export interface SettledWire {
  readonly v: 1;
  readonly id: string;
  readonly p: JobPriority;
  readonly a: number;
  readonly r?: unknown;
  /** The size of a result left out because the record would not fit a message (see `settledWire`). */
  readonly rx?: number;
  readonly e?: JobError;
  /** Stream sequence of the job message this outcome settled (the sweeper keeps it while the record is kept). */
  readonly q?: number;
  /** The job's name and data, on a record whose job message is gone (a job cancelled while parked or waiting). */
  readonly n?: string;
  readonly d?: unknown;
  /** The job's part in a flow, on a record whose job message is gone: its parent can still be told. */
  readonly f?: JobFlowLink;
}

/**
 * The record of a new job; `due` (epoch ms) for one that must wait. A redriven dead letter comes
 * back through here too, as the same job with fresh attempts.
 */
export function jobWire(job: NewJob, due?: number): JobWire {
  return {
    v: 1,
    id: job.id,
    n: job.name,
    d: job.data,
    p: job.priority,
    a: 0,
    ...(job.maxAttempts !== undefined && { m: job.maxAttempts }),
    ...(job.backoffMs && { b: job.backoffMs }),
    ...(due !== undefined && { due }),
    ...(job.flow && { f: job.flow }),
  };
}

/**
 * The job in a message of a priority subject: a job record, or a redriven dead letter (a CloudEvent
 * republished to the job's subject), which comes back as the same job with fresh attempts.
 * @throws when the bytes are not JSON
 */
export function decodeJob(data: Uint8Array): JobWire {
  const value: unknown = JSON.parse(decoder.decode(data));
  return isRedrivenJob(value) ? jobWire(jobFromDeadLetter(value)) : (value as JobWire);
}

/** @returns the JSON bytes of a wire record */
export function encodeWire(value: JobWire | SettledWire): Uint8Array {
  return utf8Bytes(JSON.stringify(value));
}

/** @returns the record in `data`; throws on bytes that are not JSON */
export function decodeWire<T = JobWire | SettledWire>(data: Uint8Array): T {
  return JSON.parse(decoder.decode(data)) as T;
}

/**
 * @returns the `cancelled` record of a job message (seq `jobSeq`; undefined for a parked job, which
 * has none): it keeps the job's name and data, since a cancel deletes the job message
 */
export function cancelledWire(job: JobWire, jobSeq: number | undefined, attempts: number): Uint8Array {
  const record: SettledWire = {
    v: 1,
    id: job.id,
    p: job.p,
    a: attempts,
    ...(jobSeq !== undefined && { q: jobSeq }),
    n: job.n,
    d: job.d,
    ...(job.f && { f: job.f }),
  };
  return encodeWire(job.e ? { ...record, e: job.e } : record);
}

/** Where a settled record must fit, and who hears of a result left out of it. */
export interface ResultRoom {
  /** The largest record the stream takes (the server's `max_payload`, less room for headers). */
  readonly maxBytes: number;
  /** The result of job `jobId`, `bytes` as JSON, did not fit: the record went without it. */
  readonly dropped: (jobId: string, bytes: number) => void;
}

/**
 * @returns the settled record, dropping a result that cannot be stored as JSON, or that would make
 * the record larger than the server takes (a job whose record cannot be stored would run again and
 * again); such a record says how large the result was (`rx`)
 */
export function settledWire(
  job: JobWire,
  jobSeq: number,
  attempts: number,
  result: unknown,
  error?: JobError,
  room?: ResultRoom,
): Uint8Array {
  const base = { v: 1 as const, id: job.id, p: job.p, a: attempts, q: jobSeq, ...(error && { e: error }) };
  if (result === undefined) return encodeWire(base);
  let body: Uint8Array;
  try {
    body = encodeWire({ ...base, r: result });
  } catch {
    return encodeWire(base);
  }
  if (!room || body.length <= room.maxBytes) return body;
  room.dropped(job.id, body.length);
  return encodeWire({ ...base, rx: body.length });
}
