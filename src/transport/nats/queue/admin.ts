import type { StoredMsg } from '@nats-io/jetstream';
import type { JobNotes } from '../../../queue/store.js';
import type { CleanOptions, JobState } from '../../../queue/types.js';
import { isNoMessage } from '../toolkit/provision.js';
import type { CancelNotices } from './cancels.js';
import type { QueueContext } from './context.js';
import { lastMessage } from './last-message.js';
import { parkedNow, type ParkedJob } from './due.js';
import { cancelledWire, decodeJob, decodeWire, JobKind, NoteKind, type SettledWire } from './wire.js';

/** Clean steps per call unless `limit` says. */
const CLEAN_LIMIT = 10_000;
const decoder = new TextDecoder();

/** Every message about one job: its state subjects and its notes. */
function everything(ctx: QueueContext, id: string): string {
  return `${ctx.names.job(id).slice(0, -1)}>`;
}

const FINISHED: ReadonlySet<string> = new Set([JobKind.done, JobKind.dead, JobKind.cancelled]);

/** @returns the job's progress and logs as its notes subjects hold them */
export async function readNotes(ctx: QueueContext, id: string): Promise<JobNotes> {
  const [progress, logs] = await Promise.all(
    [NoteKind.progress, NoteKind.logs].map((k) => lastMessage(ctx, ctx.names.subject(id, k))),
  );
  const parse = (m: StoredMsg | null | undefined): unknown =>
    m ? JSON.parse(decoder.decode(m.data)) : undefined;
  const p = parse(progress) as JobNotes['progress'];
  const l = parse(logs) as JobNotes['logs'];
  return { ...(p !== undefined && { progress: p }), ...(l && { logs: l }) };
}

/**
 * @returns job `id`'s last record in the queue's stream, and its parked record when that is the
 * newer one (the job is parked now), read at once
 */
async function currentRecords(
  ctx: QueueContext,
  id: string,
): Promise<[StoredMsg | null, ParkedJob | undefined]> {
  const [last, parked] = await Promise.all([lastMessage(ctx, ctx.names.job(id)), ctx.due.find(id)]);
  return [last, parkedNow(parked, last)];
}

/**
 * Removes every message of a job no worker holds (live message, records, notes), and tells workers
 * that may have fetched it ahead to drop it.
 * @param stateOf - the state of a job whose last message is `last`
 */
export async function removeJob(
  ctx: QueueContext,
  id: string,
  stateOf: (last: StoredMsg) => Promise<JobState | undefined>,
  cancels: CancelNotices,
): Promise<boolean> {
  const [last, parked] = await currentRecords(ctx, id);
  if (parked) {
    // Parked: its records go, and whatever else the queue's stream holds of it. A mover promoting
    // it at this moment may still store it waiting: the notice makes workers drop it.
    const [purged] = await Promise.all([
      ctx.due.purge(id),
      ctx.jsm.streams.purge(ctx.names.stream, { filter: everything(ctx, id) }),
    ]);
    cancels.send(id);
    return purged > 0;
  }
  if (!last) return false;
  const state = await stateOf(last);
  if (state === undefined || state === 'active') return false;
  const { purged } = await ctx.jsm.streams.purge(ctx.names.stream, { filter: everything(ctx, id) });
  if (!FINISHED.has(ctx.names.kindOf(last.subject))) cancels.send(id);
  return purged > 0;
}

/**
 * Ends a live job `cancelled`: its `cancelled` record first (a worker that takes the job from now
 * on finds a newer record, and a parked job is never promoted), then its live message or parked
 * record goes, then every worker hears the notice (the one holding it aborts it). Deduplicated per
 * life of the job: two cancels store one record.
 */
export async function cancelJob(
  ctx: QueueContext,
  id: string,
  stateOf: (last: StoredMsg) => Promise<JobState | undefined>,
  cancels: CancelNotices,
): Promise<boolean> {
  const [last, parked] = await currentRecords(ctx, id);
  if (parked) {
    // The record first: stored after the parking, it keeps the job from being promoted even if
    // dropping the parked record fails. A mover promoting it at this moment may still store it
    // waiting: the notice makes workers drop it.
    const body = cancelledWire(parked.job, undefined, parked.job.a);
    await ctx.store(ctx.names.subject(id, JobKind.cancelled), body, `cancel:${id}:p${parked.msg.seq}`);
    await ctx.due.drop(parked);
    cancels.send(id);
    return true;
  }
  if (!last || FINISHED.has(ctx.names.kindOf(last.subject))) return false;
  const state = await stateOf(last);
  if (state === undefined) return false;
  const job = decodeJob(last.data);
  // Delivered, the job is most likely running its next try: that try counts.
  const body = cancelledWire(job, last.seq, state === 'active' ? job.a + 1 : job.a);
  // A worker running the job stores its own record as it aborts the try (that try counted): this
  // one lands only where none did since the job message, so it never overwrites the worker's.
  const subject = ctx.names.subject(id, JobKind.cancelled);
  const prior = await lastMessage(ctx, subject);
  await ctx.storeIfLast(subject, body, `cancel:${id}:${last.seq}`, prior?.seq ?? 0);
  await ctx.jsm.streams.deleteMessage(ctx.names.stream, last.seq, false).catch(() => false);
  cancels.send(id);
  return true;
}

/**
 * Removes the records (and every other message) of jobs that finished in `state` at least
 * `olderThanMs` ago, oldest first: records sit in the stream in the order they were written.
 * A job re-added under the same id since keeps its newer messages.
 */
export async function cleanJobs(ctx: QueueContext, o: CleanOptions): Promise<number> {
  const kind = o.state === 'completed' ? JobKind.done : o.state;
  const before = Date.now() - o.olderThanMs;
  const limit = o.limit ?? CLEAN_LIMIT;
  let removed = 0;
  for (let seq = 0; removed < limit;) {
    const msg = await nextRecord(ctx, kind, seq);
    if (!msg || msg.time.getTime() > before) break;
    const { id } = decodeWire<SettledWire>(msg.data);
    const filter = everything(ctx, id);
    const { purged } = await ctx.jsm.streams.purge(ctx.names.stream, { filter, seq: msg.seq + 1 });
    if (purged > 0) removed++;
    seq = msg.seq + 1;
  }
  return removed;
}

/** @returns the first record of `kind` at or after `seq`, or null */
export function nextRecord(ctx: QueueContext, kind: string, seq: number): Promise<StoredMsg | null> {
  // `next_by_subj` is served by 2.9 servers; the client's type for this call predates it.
  const req = { seq, next_by_subj: ctx.names.filter(kind) } as unknown as { last_by_subj: string };
  return ctx.jsm.streams.getMessage(ctx.names.stream, req).catch((err: unknown) => {
    if (isNoMessage(err)) return null;
    throw err;
  });
}
