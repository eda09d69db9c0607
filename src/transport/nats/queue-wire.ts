import type { JobError, JobPriority } from '../../queue/types.js';
import { safeToken, shortHash } from './names.js';

/**
 * What a JetStream queue stores, in one stream per queue. Every message about a job sits on
 * `<prefix>.q.<queue>.<job>.<kind>`; the stream keeps one message per subject, so the last message
 * under `<prefix>.q.<queue>.<job>.*` is the job's current state:
 * a priority kind (waiting or active), `delayed`, `retry` (failed, backing off), `done` or `dead`.
 */
export const JobKind = {
  critical: 'critical',
  high: 'high',
  normal: 'normal',
  low: 'low',
  delayed: 'delayed',
  retry: 'retry',
  done: 'done',
  dead: 'dead',
} as const;
export type JobKind = (typeof JobKind)[keyof typeof JobKind];

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
}

/** The body of `done` and `dead` messages (the data stays on the job's priority message). */
export interface SettledWire {
  readonly v: 1;
  readonly id: string;
  readonly p: JobPriority;
  readonly a: number;
  readonly r?: unknown;
  readonly e?: JobError;
  /** Stream sequence of the job message this outcome settled (the sweeper keeps it while the record is kept). */
  readonly q?: number;
}

/** Whether a decoded priority message is a redriven dead letter rather than a job record. */
export function isRedriven(value: JobWire): boolean {
  return (value as unknown as { specversion?: unknown }).specversion === '1.0';
}

/**
 * The job in a message of a priority subject: a job record, or a redriven dead letter (a CloudEvent
 * republished to the job's subject), which comes back as the same job with fresh attempts.
 * @throws when the bytes are not JSON
 */
export function decodeJob(data: Uint8Array, priority: JobPriority): JobWire {
  const value = decodeWire<JobWire>(data);
  return isRedriven(value) ? fromDeadLetter(value as unknown as Record<string, unknown>, priority) : value;
}

/** The job a redriven dead letter (see `jobDeadLetter`) stands for, with fresh attempts. */
export function fromDeadLetter(event: Record<string, unknown>, priority: JobPriority): JobWire {
  const name = typeof event.jobname === 'string' ? event.jobname : String(event.type);
  const max = event.jobmaxattempts;
  const id = String(event.id);
  return { v: 1, id, n: name, d: event.data, p: priority, a: 0, ...(typeof max === 'number' && { m: max }) };
}

const SAFE = /^[A-Za-z0-9_-]+$/;

/** A subject token for an id or a queue name; ids that are not tokens are encoded, never merged. */
export function token(value: string): string {
  return SAFE.test(value) ? value : `=${Buffer.from(value).toString('base64url')}`;
}

/** The stream, subjects and consumers of one queue. */
export class QueueNames {
  readonly stream: string;
  readonly base: string;

  constructor(prefix: string, queue: string) {
    const q = SAFE.test(queue) ? queue : `${safeToken(queue)}_${shortHash(queue)}`;
    this.stream = `${safeToken(prefix).toUpperCase()}_Q_${q}`;
    this.base = `${prefix}.q.${q}`;
  }

  subject(id: string, kind: JobKind): string {
    return `${this.base}.${token(id)}.${kind}`;
  }

  /** Every message about one job. */
  job(id: string): string {
    return `${this.base}.${token(id)}.*`;
  }

  /** Every job's message of one kind. */
  filter(kind: JobKind): string {
    return `${this.base}.*.${kind}`;
  }

  /** The kind of a subject of this queue. */
  kindOf(subject: string): JobKind {
    return subject.slice(subject.lastIndexOf('.') + 1) as JobKind;
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** @returns the JSON bytes of a wire record */
export function encodeWire(value: JobWire | SettledWire): Uint8Array {
  return encoder.encode(JSON.stringify(value));
}

/** @returns the record in `data`; throws on bytes that are not JSON */
export function decodeWire<T extends JobWire | SettledWire>(data: Uint8Array): T {
  return JSON.parse(decoder.decode(data)) as T;
}

/** @returns the settled record, dropping a result that cannot be stored as JSON */
export function settledWire(
  job: JobWire,
  jobSeq: number,
  attempts: number,
  result: unknown,
  error?: JobError,
): Uint8Array {
  const base = { v: 1 as const, id: job.id, p: job.p, a: attempts, q: jobSeq, ...(error && { e: error }) };
  try {
    return encodeWire(result === undefined ? base : { ...base, r: result });
  } catch {
    return encodeWire(base);
  }
}
