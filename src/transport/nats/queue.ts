import {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  RetentionPolicy,
  StorageType,
  type ConsumerConfig,
  type JetStreamClient,
  type JetStreamManager,
} from '@nats-io/jetstream';
import { nanos, type NatsConnection } from '@nats-io/transport-node';
import type { Logger } from '../../logging.js';
import type {
  NewJob,
  QueueBackend,
  QueueBackendOptions,
  QueueWorker,
  WorkerSpec,
  JobSink,
} from '../../queue/backend.js';
import {
  PRIORITIES,
  type AddedJob,
  type JobCounts,
  type JobInfo,
  type JobPriority,
  type JobState,
} from '../../queue/types.js';
import type { DeadLetterDraft } from '../dead-letters.js';
import type { ResolvedNatsOptions } from './options.js';
import { isNoMessage, isNotFound, MissingStreamError } from './provision.js';
import { QueueAdder } from './queue-add.js';
import { FinishedJobSweeper } from './queue-sweeper.js';
import { NatsQueueWorker } from './queue-worker.js';
import {
  decodeJob,
  decodeWire,
  encodeWire,
  JobKind,
  QueueNames,
  type JobWire,
  type SettledWire,
} from './queue-wire.js';

/** What a JetStream queue borrows from its transport. */
export interface NatsQueueHost {
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  readonly options: ResolvedNatsOptions;
  readonly logger: Logger;
  writeDeadLetter(draft: DeadLetterDraft, subject: string, seq: number): Promise<void>;
}

/** Publishes in flight at once during `add`. */
const ADD_WINDOW = 1_000;
/** Parked (delayed, backing-off) jobs sit unacknowledged on their consumer until due. */
const MAX_PARKED = 1_000_000;
const MAX_ACTIVE = 100_000;
const WORK_KINDS = [...PRIORITIES, JobKind.delayed, JobKind.retry] as const;

/**
 * A job queue on JetStream: one stream per queue, one durable consumer per priority (JetStream has
 * no per-message priority), two for parked jobs, and two counters. See `queue-wire.ts` for the
 * subjects and `queue-worker.ts` for how workers take jobs.
 * @example
 * const backend = await openNatsQueue(host, 'emails', { ackWaitMs: 30_000, dedupWindowMs: 86_400_000 });
 */
export async function openNatsQueue(
  host: NatsQueueHost,
  queue: string,
  opts: QueueBackendOptions,
): Promise<QueueBackend> {
  const names = new QueueNames(host.options.prefix, queue);
  await provision(host, names, opts);
  return new NatsQueueBackend(host, queue, names, opts);
}

async function provision(host: NatsQueueHost, names: QueueNames, opts: QueueBackendOptions): Promise<void> {
  const { jsm, options: o } = host;
  const exists = await jsm.streams.info(names.stream).catch((err: unknown) => {
    if (isNotFound(err)) return undefined;
    throw err;
  });
  if (!exists && !o.provision) throw new MissingStreamError(names.stream, o.prefix);
  if (!o.provision) return; // its consumers came with the stream
  if (!exists) {
    await jsm.streams
      .add({
        name: names.stream,
        subjects: [`${names.base}.>`],
        retention: RetentionPolicy.Limits,
        storage: o.storage === 'memory' ? StorageType.Memory : StorageType.File,
        num_replicas: o.replicas,
        discard: DiscardPolicy.Old,
        max_msgs_per_subject: 1,
        duplicate_window: nanos(opts.dedupWindowMs),
      })
      .catch(async (err: unknown) => jsm.streams.info(names.stream).catch(() => Promise.reject(err)));
  }
  await Promise.all([
    ...WORK_KINDS.map((kind) => jsm.consumers.add(names.stream, workConsumer(names, kind, opts.ackWaitMs))),
    ...[JobKind.done, JobKind.dead].map((kind) =>
      jsm.consumers.add(names.stream, {
        durable_name: `count_${kind}`,
        filter_subject: names.filter(kind),
        ack_policy: AckPolicy.None,
        deliver_policy: DeliverPolicy.All,
      }),
    ),
  ]);
}

function workConsumer(names: QueueNames, kind: JobKind, ackWaitMs: number): Partial<ConsumerConfig> {
  const parked = kind === JobKind.delayed || kind === JobKind.retry;
  return {
    durable_name: kind,
    filter_subject: names.filter(kind),
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: nanos(ackWaitMs),
    max_deliver: -1,
    max_ack_pending: parked ? MAX_PARKED : MAX_ACTIVE,
  };
}

export class NatsQueueBackend implements QueueBackend {
  private readonly workers = new Set<NatsQueueWorker>();
  private adder: QueueAdder | undefined;
  /** Started with the first worker: processes that finish jobs keep the stream bounded. */
  private sweeper: FinishedJobSweeper | undefined;

  constructor(
    private readonly host: NatsQueueHost,
    readonly queue: string,
    private readonly names: QueueNames,
    private readonly opts: QueueBackendOptions,
  ) {}

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
    const wire: JobWire = {
      v: 1,
      id: job.id,
      n: job.name,
      d: job.data,
      p: job.priority,
      a: 0,
      ...(job.maxAttempts !== undefined && { m: job.maxAttempts }),
      ...(job.backoffMs && { b: job.backoffMs }),
      ...(delayed && { due: Date.now() + job.delayMs }),
    };
    const subject = this.names.subject(job.id, delayed ? JobKind.delayed : job.priority);
    this.adder ??= new QueueAdder(this.host.nc, this.host.options.requestTimeoutMs);
    const duplicate = await this.adder.publish(
      subject,
      encodeWire(wire),
      job.dedup ? `add:${job.id}` : undefined,
    );
    return duplicate ? { id: job.id, duplicate: true } : { id: job.id };
  }

  async getJob(id: string): Promise<JobInfo | undefined> {
    const last = await this.lastMessage(this.names.job(id));
    if (!last) return undefined;
    const kind = this.names.kindOf(last.subject);
    if (kind === JobKind.done || kind === JobKind.dead) return this.settled(last.data, kind);
    const job = decodeJob(last.data, kind as JobPriority);
    const state = await this.stateOf(kind, last.seq);
    return state && infoOf(job, state, job.a);
  }

  private async settled(data: Uint8Array, kind: JobKind): Promise<JobInfo | undefined> {
    const s = decodeWire<SettledWire>(data);
    const jobMsg = await this.lastMessage(this.names.subject(s.id, s.p));
    const job = jobMsg ? decodeJob(jobMsg.data, s.p) : undefined;
    const state: JobState = kind === JobKind.done ? 'completed' : 'dead';
    return {
      ...infoOf(job ?? { v: 1, id: s.id, n: '', d: undefined, p: s.p, a: s.a }, state, s.a),
      ...(s.e && { error: s.e }),
      ...(kind === JobKind.done && { result: s.r }),
    };
  }

  /**
   * A priority message delivered but not yet settled is active: consumers deliver in stream order.
   * One already settled whose outcome record is gone was finished and swept: undefined.
   */
  private async stateOf(kind: JobKind, seq: number): Promise<JobState | undefined> {
    if (kind === JobKind.delayed) return 'delayed';
    if (kind === JobKind.retry) return 'failed';
    const info = await this.host.jsm.consumers.info(this.names.stream, kind);
    if (seq <= info.ack_floor.stream_seq) return undefined;
    return seq > info.delivered.stream_seq ? 'waiting' : 'active';
  }

  private async lastMessage(subject: string) {
    return this.host.jsm.streams
      .getMessage(this.names.stream, { last_by_subj: subject })
      .catch((err: unknown) => {
        if (isNoMessage(err)) return null;
        throw err;
      });
  }

  async counts(): Promise<JobCounts> {
    const { jsm } = this.host;
    const kinds = [...WORK_KINDS, 'count_done', 'count_dead'];
    const infos = await Promise.all(kinds.map((k) => jsm.consumers.info(this.names.stream, k)));
    const c: JobCounts = { waiting: 0, delayed: 0, active: 0, completed: 0, failed: 0, dead: 0 };
    infos.forEach((info, i) => {
      const k = kinds[i]!;
      if (k === 'count_done') c.completed = info.num_pending;
      else if (k === 'count_dead') c.dead = info.num_pending;
      else if (k === JobKind.delayed) c.delayed = info.num_pending + info.num_ack_pending;
      else if (k === JobKind.retry) c.failed = info.num_pending + info.num_ack_pending;
      else {
        c.waiting += info.num_pending;
        c.active += info.num_ack_pending;
      }
    });
    return c;
  }

  work(spec: WorkerSpec, sink: JobSink): QueueWorker {
    const worker = new NatsQueueWorker(
      { ...this.host, names: this.names, queue: this.queue, ackWaitMs: this.opts.ackWaitMs },
      spec,
      sink,
      () => this.workers.delete(worker),
    );
    this.workers.add(worker);
    this.finishedSweeper().start();
    return worker;
  }

  /** Removes finished jobs beyond `keepFinished` now (workers also do it every 30 s). @returns messages removed */
  sweep(): Promise<number> {
    return this.finishedSweeper().sweep();
  }

  private finishedSweeper(): FinishedJobSweeper {
    const { jsm, logger } = this.host;
    const { keepFinished } = this.opts;
    return (this.sweeper ??= new FinishedJobSweeper({
      jsm,
      logger,
      names: this.names,
      workKinds: WORK_KINDS,
      keepFinished,
    }));
  }

  async close(): Promise<void> {
    this.sweeper?.stop();
    await Promise.all([...this.workers].map((w) => w.stop()));
    this.adder?.close();
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
