import type { StoredMsg } from '@nats-io/jetstream';
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
import { cancelJob, cleanJobs, lastMessage, readNotes, removeJob } from './admin.js';
import { CancelNotices } from './cancels.js';
import { QueueContext, type QueueHost } from './context.js';
import { COUNT_CONSUMERS, provisionQueue, WORK_KINDS } from './provision.js';
import { FinishedJobSweeper } from './sweeper.js';
import { NatsQueueWorker } from './worker.js';
import {
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
  const ctx = new QueueContext(host, queue, opts.ackWaitMs);
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
    const delayed = job.delayMs > 0;
    const wire = jobWire(job, delayed ? Date.now() + job.delayMs : undefined);
    const subject = this.ctx.names.subject(job.id, delayed ? JobKind.delayed : job.priority);
    const duplicate = await this.ctx.store(
      subject,
      encodeWire(wire),
      job.dedup ? `add:${job.id}` : undefined,
    );
    return duplicate ? { id: job.id, duplicate: true } : { id: job.id };
  }

  async getJob(id: string): Promise<JobInfo | undefined> {
    const [last, notes] = await Promise.all([
      this.lastMessage(this.ctx.names.job(id)),
      readNotes(this.ctx, id),
    ]);
    if (!last) return undefined;
    const kind = this.ctx.names.kindOf(last.subject) as JobKind;
    if (kind === JobKind.done || kind === JobKind.dead || kind === JobKind.cancelled)
      return this.settled(last.data, kind, notes);
    const job = decodeJob(last.data);
    const state = await this.stateOf(kind, last.seq);
    return state && { ...infoOf(job, state, job.a), ...notesInfo({ ...notesOf(job), ...notes }) };
  }

  private async settled(data: Uint8Array, kind: JobKind, notes: JobNotes): Promise<JobInfo | undefined> {
    const s = decodeWire<SettledWire>(data);
    const jobMsg = await this.lastMessage(this.ctx.names.subject(s.id, s.p));
    const job = jobMsg ? decodeJob(jobMsg.data) : undefined;
    const state: JobState =
      kind === JobKind.done ? 'completed' : kind === JobKind.dead ? 'dead' : 'cancelled';
    return {
      ...infoOf(job ?? { v: 1, id: s.id, n: s.n ?? '', d: s.d, p: s.p, a: s.a }, state, s.a),
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
    if (kind === JobKind.delayed) return 'delayed';
    if (kind === JobKind.retry) return 'failed';
    const info = await this.ctx.jsm.consumers.info(this.ctx.names.stream, kind);
    if (seq <= info.ack_floor.stream_seq) return undefined;
    return seq > info.delivered.stream_seq ? 'waiting' : 'active';
  }

  private lastMessage(subject: string): Promise<StoredMsg | null> {
    return lastMessage(this.ctx, subject);
  }

  async counts(): Promise<StoreCounts> {
    const { jsm, names } = this.ctx;
    const kinds = [...WORK_KINDS, COUNT_CONSUMERS.done, COUNT_CONSUMERS.dead];
    const [infos, cancelled] = await Promise.all([
      Promise.all(kinds.map((k) => jsm.consumers.info(names.stream, k))),
      this.cancelledCount(),
    ]);
    const c: StoreCounts = { waiting: 0, delayed: 0, active: 0, completed: 0, failed: 0, dead: 0, cancelled };
    infos.forEach((info, i) => {
      const k = kinds[i]!;
      if (k === COUNT_CONSUMERS.done) c.completed = info.num_pending;
      else if (k === COUNT_CONSUMERS.dead) c.dead = info.num_pending;
      else if (k === JobKind.delayed) c.delayed = info.num_pending + info.num_ack_pending;
      else if (k === JobKind.retry) c.failed = info.num_pending + info.num_ack_pending;
      else {
        c.waiting += info.num_pending;
        c.active += info.num_ack_pending;
      }
    });
    return c;
  }

  /** Cancelled jobs; 0 on a queue provisioned before cancels had their counting consumer. */
  private async cancelledCount(): Promise<number> {
    const { jsm, names } = this.ctx;
    const info = await jsm.consumers.info(names.stream, COUNT_CONSUMERS.cancelled).catch((err: unknown) => {
      if (isNotFound(err)) return undefined;
      throw err;
    });
    return info?.num_pending ?? 0;
  }

  remove(id: string): Promise<boolean> {
    return removeJob(this.ctx, id, this.stateOfLast, this.cancels);
  }

  cancel(id: string): Promise<boolean> {
    return cancelJob(this.ctx, id, this.stateOfLast, this.cancels);
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
  };
}
