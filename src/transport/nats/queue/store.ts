import type { ConsumerInfo, StoredMsg } from '@nats-io/jetstream';
import type {
  JobNotes,
  JobSink,
  NewJob,
  QueueStore,
  QueueStoreOptions,
  QueueWorker,
  StoreCounts,
  WorkerSpec,
} from '../../../queue/store.js';
import { notesInfo } from '../../../queue/job-notes.js';
import type { AddedJob, CleanOptions, JobInfo, JobState } from '../../../queue/types.js';
import { isNotFound } from '../toolkit/provision.js';
import { cancelJob, cleanJobs, readNotes, removeJob } from './admin.js';
import { lastMessage } from './last-message.js';
import { parkedNow } from './due.js';
import { CancelNotices } from './cancels.js';
import { QueueContext, type QueueHost } from './context.js';
import {
  GROUPED_COUNT_CONSUMER,
  GROUPS_CONSUMER,
  LEGACY_PARKED_KINDS,
  provisionQueue,
  WORK_KINDS,
} from './provision.js';
import { FinishedJobSweeper } from './sweeper.js';
import { NatsQueueWorker } from './worker.js';
import { addGrouped, cancelWaitingInGroup, removeWaitingInGroup, waitingInGroup } from './groups.js';
import {
  COUNT_CONSUMERS,
  decodeJob,
  decodeWire,
  encodeWire,
  JobKind,
  jobWire,
  notesOf,
  type JobWire,
  type SettledWire,
} from './wire.js';

/** Publishes in flight at once during `add`. */
const ADD_WINDOW = 1_000;

/**
 * Opens the job queue `queue` on JetStream: one stream per queue, one durable consumer per
 * priority, two for parked jobs, and two counters. See `wire.ts` for the subjects and `worker.ts`
 * for how workers take jobs.
 * @example
 * const store = await openNatsQueue(host, 'emails', { ackWaitMs: 30_000, dedupWindowMs: 86_400_000, keepFinished: 10_000 });
 */
export async function openNatsQueue(
  host: QueueHost,
  queue: string,
  opts: QueueStoreOptions,
): Promise<QueueStore> {
  const ctx = new QueueContext(host, queue, opts.ackWaitMs, opts.dedupWindowMs);
  await provisionQueue(ctx, opts);
  return new NatsQueueStore(ctx, opts);
}

export class NatsQueueStore implements QueueStore {
  private readonly workers = new Set<NatsQueueWorker>();
  /** Started with the first worker: processes that finish jobs keep the stream bounded. */
  private sweeper: FinishedJobSweeper | undefined;
  /** Cancel notices: sent by `cancel` and `remove`, heard by this process's workers. */
  private readonly cancels: CancelNotices;
  private readonly stateOfLast = async (last: StoredMsg): Promise<JobState | undefined> => {
    const kind = this.ctx.names.kindOf(last.subject) as JobKind;
    if (kind === JobKind.done) return 'completed';
    if (kind === JobKind.dead || kind === JobKind.cancelled) return kind;
    return this.stateOf(kind, last.seq);
  };

  readonly queue: string;

  constructor(
    private readonly ctx: QueueContext,
    private readonly opts: QueueStoreOptions,
  ) {
    this.queue = ctx.queue;
    this.cancels = new CancelNotices(ctx, (id) => {
      for (const w of this.workers) w.cancel(id);
    });
  }

  async add(jobs: readonly NewJob[]): Promise<AddedJob[]> {
    const out = new Array<AddedJob>(jobs.length);
    let next = 0;
    const lane = async (): Promise<void> => {
      while (next < jobs.length) {
        const i = next++;
        out[i] = await this.addOne(jobs[i]!);
      }
    };
    await Promise.all(Array.from({ length: Math.min(ADD_WINDOW, jobs.length) }, lane));
    return out;
  }

  private async addOne(job: NewJob): Promise<AddedJob> {
    if (job.group !== undefined && job.delayMs <= 0) {
      const duplicate = await addGrouped(this.ctx, { ...job, group: job.group });
      return duplicate ? { id: job.id, duplicate: true } : { id: job.id };
    }
    const msgId = job.dedup ? `add:${job.id}` : undefined;
    // A delayed job of a group is parked with the group it joins once due (`jg`).
    const parked = (): JobWire & { due: number } => {
      const wire = { ...jobWire(job), due: Date.now() + job.delayMs };
      return job.group === undefined ? wire : { ...wire, jg: job.group };
    };
    const duplicate =
      job.delayMs > 0
        ? await this.ctx.due.park(JobKind.later, parked(), msgId)
        : await this.ctx.store(this.ctx.names.subject(job.id, job.priority), encodeWire(jobWire(job)), msgId);
    return duplicate ? { id: job.id, duplicate: true } : { id: job.id };
  }

  async getJob(id: string): Promise<JobInfo | undefined> {
    const [last, notes, parked] = await Promise.all([
      this.lastMessage(this.ctx.names.job(id)),
      readNotes(this.ctx, id),
      this.ctx.due.find(id),
    ]);
    const current = parkedNow(parked, last);
    if (current) {
      const { job } = current;
      const state = current.kind === JobKind.later ? 'delayed' : 'failed';
      return { ...infoOf(job, state, job.a), ...notesInfo({ ...notesOf(job), ...notes }) };
    }
    if (!last) return this.waitingInGroup(id);
    const kind = this.ctx.names.kindOf(last.subject) as JobKind;
    if (kind === JobKind.done || kind === JobKind.dead || kind === JobKind.cancelled)
      return this.settled(last.data, kind, notes);
    const job = decodeJob(last.data);
    const state = await this.stateOf(kind, last.seq);
    return state && { ...infoOf(job, state, job.a), ...notesInfo({ ...notesOf(job), ...notes }) };
  }

  private async waitingInGroup(id: string): Promise<JobInfo | undefined> {
    const job = await waitingInGroup(this.ctx, id);
    return job && infoOf(job, 'waiting', job.a);
  }

  private async settled(data: Uint8Array, kind: JobKind, notes: JobNotes): Promise<JobInfo | undefined> {
    const s = decodeWire<SettledWire>(data);
    const jobMsg = await this.lastMessage(this.ctx.names.subject(s.id, s.p));
    const job = jobMsg ? decodeJob(jobMsg.data) : undefined;
    const state: JobState =
      kind === JobKind.done ? 'completed' : kind === JobKind.dead ? 'dead' : 'cancelled';
    return {
      ...infoOf(job ?? { v: 1, id: s.id, n: s.n ?? '', d: s.d, p: s.p, a: s.a, f: s.f }, state, s.a),
      ...(s.e && { error: s.e }),
      ...(kind === JobKind.done && { result: s.r }),
      ...notesInfo({ ...(job && notesOf(job)), ...notes }),
    };
  }

  /**
   * A priority message delivered but not yet settled is active: consumers deliver in stream order.
   * One already settled whose outcome record is gone was finished and swept: undefined.
   */
  private async stateOf(kind: JobKind, seq: number): Promise<JobState | undefined> {
    if (kind === JobKind.later || kind === JobKind.delayed) return 'delayed';
    if (kind === JobKind.backoff || kind === JobKind.retry) return 'failed';
    const info = await this.ctx.jsm.consumers.info(this.ctx.names.stream, kind);
    if (seq <= info.ack_floor.stream_seq) return undefined;
    return seq > info.delivered.stream_seq ? 'waiting' : 'active';
  }

  private lastMessage(subject: string): Promise<StoredMsg | null> {
    return lastMessage(this.ctx, subject);
  }

  async counts(): Promise<StoreCounts> {
    const counted = [
      ...WORK_KINDS,
      ...Object.values(COUNT_CONSUMERS),
      ...LEGACY_PARKED_KINDS,
      GROUPED_COUNT_CONSUMER,
      GROUPS_CONSUMER,
    ];
    const [infos, parkedNow] = await Promise.all([
      Promise.all(counted.map(async (k) => this.consumerInfo(k))),
      this.ctx.due.counts(),
    ]);
    const pending = new Map<string, ConsumerInfo | undefined>(counted.map((k, i) => [k, infos[i]]));
    const count = (k: string): number => pending.get(k)?.num_pending ?? 0;
    const parked = (k: string): number => count(k) + (pending.get(k)?.num_ack_pending ?? 0);
    const c: StoreCounts = {
      waiting: 0,
      active: 0,
      // Parked in the parked stream; records left in the queue's stream by an earlier version.
      delayed: parkedNow.later + count(COUNT_CONSUMERS.later) + parked(JobKind.delayed),
      failed: parkedNow.backoff + count(COUNT_CONSUMERS.backoff) + parked(JobKind.retry),
      completed: count(COUNT_CONSUMERS.done),
      dead: count(COUNT_CONSUMERS.dead),
      cancelled: count(COUNT_CONSUMERS.cancelled),
    };
    for (const k of WORK_KINDS) {
      c.waiting += count(k);
      c.active += pending.get(k)?.num_ack_pending ?? 0;
    }
    // Jobs this process's workers fetched ahead but have not started are waiting, though the
    // server counts them as handed out (other processes' are not known here).
    let ahead = 0;
    for (const w of this.workers) ahead += w.buffered;
    ahead = Math.min(ahead, c.active);
    c.active -= ahead;
    c.waiting += ahead;
    // Jobs waiting in ordered groups are index entries. A group being driven (its turn held) may
    // have its head out as a job, counted above while its entry stays until it finished: one each.
    const driven = pending.get(GROUPS_CONSUMER)?.num_ack_pending ?? 0;
    c.waiting += Math.max(0, count(GROUPED_COUNT_CONSUMER) - driven);
    return c;
  }

  /** A consumer's info; undefined for one this queue's stream lacks (made by another version). */
  private consumerInfo(consumer: string): Promise<ConsumerInfo | undefined> {
    const { jsm, names } = this.ctx;
    return jsm.consumers.info(names.stream, consumer).catch((err: unknown) => {
      if (isNotFound(err)) return undefined;
      throw err;
    });
  }

  async remove(id: string): Promise<boolean> {
    return (
      (await removeJob(this.ctx, id, this.stateOfLast, this.cancels)) || removeWaitingInGroup(this.ctx, id)
    );
  }

  async cancel(id: string): Promise<boolean> {
    return (
      (await cancelJob(this.ctx, id, this.stateOfLast, this.cancels)) || cancelWaitingInGroup(this.ctx, id)
    );
  }

  clean(options: CleanOptions): Promise<number> {
    return cleanJobs(this.ctx, options);
  }

  work(spec: WorkerSpec, sink: JobSink): QueueWorker {
    const cancels = this.cancels;
    cancels.listen();
    const release = (): void => void this.workers.delete(worker);
    const worker = new NatsQueueWorker(this.ctx, spec, sink, release, (id) => cancels.has(id));
    this.workers.add(worker);
    this.finishedSweeper().start();
    this.ctx.due.startMover();
    return worker;
  }

  /** Removes finished jobs beyond `keepFinished` now (workers also do it every 30 s). @returns messages removed */
  sweep(): Promise<number> {
    return this.finishedSweeper().sweep();
  }

  private finishedSweeper(): FinishedJobSweeper {
    return (this.sweeper ??= new FinishedJobSweeper(this.ctx, WORK_KINDS, this.opts.keepFinished));
  }

  async close(): Promise<void> {
    this.sweeper?.stop();
    this.cancels.close();
    await this.ctx.due.stop();
    await Promise.all([...this.workers].map((w) => w.stop()));
    // Steps of jobs that already settled are still being written: the connection must outlive them.
    await this.ctx.settled();
    this.ctx.close();
  }
}

function infoOf(job: JobWire, state: JobState, attempts: number): JobInfo {
  return {
    id: job.id,
    name: job.n,
    data: job.d,
    state,
    priority: job.p,
    attempts,
    ...(job.e && { error: job.e }),
    ...(job.f?.parent && { parent: job.f.parent }),
  };
}
