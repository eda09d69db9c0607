import { Cron } from 'croner';
import { z } from 'zod';
import { ValidationError } from '../errors.js';
import { newJob } from './options.js';
import type { NewJob } from './store.js';
import type { JobOptions, JobPriority } from './types.js';

/**
 * When a repeatable job runs: a cron pattern (5 fields, or 6 with seconds) read in `tz` (an IANA
 * name; UTC when absent, daylight-saving changes as `croner` handles them), or every `everyMs`
 * aligned to multiples of `everyMs` since the epoch.
 */
export type RepeatSchedule = { readonly cron: string; readonly tz?: string } | { readonly everyMs: number };

/** Options of each job a schedule adds (its id is the slot's, `repeat:<name>:<slotMs>`). */
export type RepeatJobOptions = Pick<JobOptions, 'priority' | 'maxAttempts' | 'backoff'>;

/** One job scheduler of a queue, as `queue.schedulers()` lists it. */
export interface SchedulerInfo {
  /** The scheduler's name, also the name of every job it adds. */
  readonly name: string;
  readonly cron?: string;
  readonly tz?: string;
  readonly everyMs?: number;
  /** The data every job gets. */
  readonly data: unknown;
  /** The next slot (ms since the epoch); at or before now while a missed slot's job is due. Absent when none is ahead. */
  readonly nextSlot?: number;
  /** The last slot a job was added for (ms since the epoch). */
  readonly lastSlot?: number;
}

/** A definition as the schedulers bucket stores it (JSON). */
export interface SchedulerRecord {
  readonly v: 1;
  readonly name: string;
  readonly data: unknown;
  readonly cron?: string;
  readonly tz?: string;
  readonly everyMs?: number;
  readonly job: {
    readonly priority: JobPriority;
    readonly maxAttempts?: number;
    readonly backoffMs?: number[];
  };
  /** When the definition was written: slots at or before it are not owed. */
  readonly since: number;
  /** The last slot whose job was added. */
  readonly last?: number;
}

/** The parts of a record that define it: a `repeat` that changes none of them writes nothing. */
export type SchedulerDefinition = Omit<SchedulerRecord, 'since' | 'last'>;

const scheduleSchema = z.union([
  z.strictObject({ cron: z.string().min(1).max(200), tz: z.string().min(1).max(100).optional() }),
  z.strictObject({ everyMs: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER) }),
]);
const nameSchema = z.string().min(1).max(200);

/**
 * Checks a `repeat` call and builds its definition; a per-job backoff is resolved to its delays
 * here, so that every process adds the same jobs.
 * @throws {ValidationError} for a bad name, pattern, time zone or job option
 */
export function defineScheduler(
  name: string,
  data: unknown,
  schedule: RepeatSchedule,
  opts: RepeatJobOptions = {},
): SchedulerDefinition {
  const n = nameSchema.safeParse(name);
  if (!n.success) throw ValidationError.fromIssues('invalid scheduler name', n.error.issues);
  const s = scheduleSchema.safeParse(schedule);
  if (!s.success) throw ValidationError.fromIssues(`invalid schedule of "${name}"`, s.error.issues);
  const extra = Object.keys(opts).filter((k) => !['priority', 'maxAttempts', 'backoff'].includes(k));
  if (extra.length > 0) throw new ValidationError(`a repeatable job takes no ${extra.join(', ')}`);
  const job = newJob(name, data, opts);
  const when = 'cron' in s.data ? { cron: s.data.cron, ...(s.data.tz && { tz: s.data.tz }) } : s.data;
  const def: SchedulerDefinition = {
    v: 1,
    name,
    data,
    ...when,
    job: {
      priority: job.priority,
      ...(job.maxAttempts !== undefined && { maxAttempts: job.maxAttempts }),
      ...(job.backoffMs && { backoffMs: [...job.backoffMs] }),
    },
  };
  if (def.cron !== undefined) cronOf(def);
  return def;
}

const crons = new Map<string, Cron>();

/** @throws {ValidationError} when the pattern or time zone is not one croner reads */
function cronOf(def: Pick<SchedulerRecord, 'cron' | 'tz'>): Cron {
  const id = `${def.tz ?? ''} ${def.cron}`;
  let cron = crons.get(id);
  if (cron) return cron;
  try {
    cron = new Cron(def.cron!, { timezone: def.tz ?? 'UTC', mode: '5-or-6-parts' });
    cron.nextRun(new Date(0)); // an unknown time zone shows only here
  } catch (err) {
    throw new ValidationError(
      `invalid cron "${def.cron}"${def.tz ? ` in ${def.tz}` : ''}: ${(err as Error).message}`,
      [],
      { cause: err },
    );
  }
  if (crons.size >= 1_000) crons.clear();
  crons.set(id, cron);
  return cron;
}

/** @returns the latest slot at or before `t`, or undefined when there is none */
export function slotAtOrBefore(def: SchedulerDefinition, t: number): number | undefined {
  if (def.everyMs !== undefined) return Math.floor(t / def.everyMs) * def.everyMs;
  // A run earlier in the reference's own second counts, so the reference is one ms past `t`.
  return cronOf(def)
    .previousRuns(1, new Date(t + 1))[0]
    ?.getTime();
}

/** @returns the first slot after `t`, or undefined when there is none */
export function slotAfter(def: SchedulerDefinition, t: number): number | undefined {
  if (def.everyMs !== undefined) return (Math.floor(t / def.everyMs) + 1) * def.everyMs;
  return cronOf(def).nextRun(new Date(t))?.getTime() ?? undefined;
}

/** @returns true when `slot` is one of the definition's slots */
export function isSlotOf(def: SchedulerDefinition, slot: number): boolean {
  return slotAtOrBefore(def, slot) === slot;
}

/**
 * The slot a scheduler waits for at `now`: the latest missed one when a slot after the last
 * added one (and after the definition was written) has passed — one catch-up job, however many
 * were missed — else the first one ahead.
 * @returns the slot (ms since the epoch), or undefined when none is ahead
 */
export function dueSlot(record: SchedulerRecord, now: number): number | undefined {
  const base = Math.max(record.since, record.last ?? -Infinity);
  const missed = slotAtOrBefore(record, now);
  if (missed !== undefined && missed > base) return missed;
  return slotAfter(record, Math.max(now, base));
}

/** @returns the job a slot adds; its id makes every process's add of it the same job */
export function slotJob(record: SchedulerRecord, slot: number): NewJob {
  return {
    id: `repeat:${record.name}:${slot}`,
    dedup: true,
    name: record.name,
    data: record.data,
    priority: record.job.priority,
    delayMs: 0,
    maxAttempts: record.job.maxAttempts,
    backoffMs: record.job.backoffMs,
  };
}

/** @returns what `schedulers()` shows of a record at `now` */
export function schedulerInfo(record: SchedulerRecord, now: number): SchedulerInfo {
  const next = dueSlot(record, now);
  return {
    name: record.name,
    ...(record.cron !== undefined && { cron: record.cron }),
    ...(record.tz !== undefined && { tz: record.tz }),
    ...(record.everyMs !== undefined && { everyMs: record.everyMs }),
    data: record.data,
    ...(next !== undefined && { nextSlot: next }),
    ...(record.last !== undefined && { lastSlot: record.last }),
  };
}

/** @returns true when the two define the same schedule of the same jobs */
export function sameDefinition(a: SchedulerDefinition, b: SchedulerDefinition): boolean {
  return JSON.stringify(definitionOf(a)) === JSON.stringify(definitionOf(b));
}

/** @returns the defining parts of a record, in a fixed order */
export function definitionOf(r: SchedulerDefinition): SchedulerDefinition {
  const { v, name, data, cron, tz, everyMs, job } = r;
  return {
    v,
    name,
    data,
    ...(cron !== undefined && { cron }),
    ...(tz !== undefined && { tz }),
    ...(everyMs !== undefined && { everyMs }),
    job,
  };
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** @returns the record as the bucket stores it (JSON) */
export function encodeRecord(record: SchedulerRecord): Uint8Array {
  return encoder.encode(JSON.stringify(record));
}

/** @returns the record, or undefined for bytes that are not one (another version, or damaged) */
export function decodeRecord(bytes: Uint8Array): SchedulerRecord | undefined {
  try {
    const r = JSON.parse(decoder.decode(bytes)) as Partial<SchedulerRecord>;
    if (r.v !== 1 || typeof r.name !== 'string' || typeof r.since !== 'number' || !r.job) return undefined;
    if (typeof r.everyMs !== 'number' && typeof r.cron !== 'string') return undefined;
    return r as SchedulerRecord;
  } catch {
    return undefined;
  }
}

/** @returns the bucket every queue's schedulers live in, named after the transport's namespace */
export function schedulersBucket(namespace: string | undefined): string {
  return `${(namespace ?? 'bulwark').replace(/[^-_a-zA-Z0-9]/g, '_')}_schedulers`;
}

/** A key token: a plain name as it is, any other as `=` + base64url (a plain token never starts with `=`). */
function token(s: string): string {
  return /^[A-Za-z0-9_-]+$/.test(s) ? s : `=${Buffer.from(s).toString('base64url')}`;
}

/** @returns the key of scheduler `name` of `queue` */
export function schedulerKey(queue: string, name: string): string {
  return `${token(queue)}.${token(name)}`;
}

/** @returns the prefix every key of `queue`'s schedulers starts with (`<queue>.`) */
export function queueKeyPrefix(queue: string): string {
  return `${token(queue)}.`;
}
