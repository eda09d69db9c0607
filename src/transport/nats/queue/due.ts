import { DiscardPolicy, RetentionPolicy, StorageType, type JsMsg } from '@nats-io/jetstream';
import { MissingStreamError } from '../../../errors.js';
import { DueSecondMover, dueSecond } from '../toolkit/due-seconds.js';
import { isNotFound } from '../toolkit/provision.js';
import { lastMessage } from './last-message.js';
import type { JetStreamManager } from '@nats-io/jetstream';
import type { Logger } from '../../../logging.js';
import type { ResolvedNatsOptions } from '../toolkit/options.js';
import type { QueueNames } from '../toolkit/names.js';
import { decodeWire, encodeWire, JobKind, type JobWire } from './wire.js';
import { utf8Bytes } from '../../../bytes.js';

/** The kinds of a job parked by due time: delayed (`later`) and backing off after a failure (`backoff`). */
export type DueKind = typeof JobKind.later | typeof JobKind.backoff;

/** A parked job's entry on its due second: enough to find its record and tell it is still that one. */
interface DueEntry {
  readonly id: string;
  readonly a: number;
  readonly due: number;
}

const decoder = new TextDecoder();

/** What parking and moving jobs use of their queue (its `QueueContext`). */
export interface DueHost {
  readonly jsm: JetStreamManager;
  readonly options: ResolvedNatsOptions;
  readonly logger: Logger;
  readonly names: QueueNames;
  /** Stores a message, confirmed by the broker; true when it was a duplicate. */
  store(subject: string, body: Uint8Array, msgId?: string): Promise<boolean>;
}

/**
 * A queue's jobs that wait for a due time (added with a delay, or backing off before a retry). A
 * parked job is two stored messages and nothing else: its record on `<job>.later` or `<job>.backoff`
 * in the queue's stream (which `getJob`, `counts`, `remove` and `cancel` read), which no consumer
 * delivers, and an entry under `<prefix>.qdue.<queue>.<dueSecond>` on a stream of its own. Once the
 * second begins, a worker process's {@link DueSecondMover} reads its entries, republishes each job
 * still parked, at its due millisecond, to its priority subject (deduplicated per parking, so two movers or a move retried
 * after a crash store it once), drops its record, and only then purges the entries it read.
 * @example
 * const due = new DueJobs(ctx);
 * await due.park(JobKind.later, { ...job, due: Date.now() + 60_000 });
 * due.startMover();
 * await due.stop();
 */
export class DueJobs {
  /** The stream of due entries; `~` keeps it apart from any queue's stream. */
  readonly stream: string;
  private readonly head: string;
  private ensured: Promise<void> | undefined;
  private mover: DueSecondMover | undefined;
  /** Promotions waiting for their due millisecond: `stop` ends them (their entries stay for the next move). */
  private readonly waits = new Map<NodeJS.Timeout, (err: Error) => void>();

  constructor(private readonly ctx: DueHost) {
    const { names, options } = ctx;
    this.stream = `${names.stream}~due`;
    this.head = `${options.prefix}.qdue.${names.base.slice(names.base.lastIndexOf('.') + 1)}`;
  }

  /**
   * Parks a job until `job.due`: its due entry first, then its record, so that a record always has
   * an entry (an entry without a record is skipped when due).
   * @param msgId - the record's dedup key
   * @returns whether the stream already held a record with `msgId`
   * @throws {MissingStreamError} when the due stream is missing and may not be created
   * @throws {TransportError} when the server refuses a write or does not answer in time
   */
  async park(kind: DueKind, job: JobWire & { readonly due: number }, msgId?: string): Promise<boolean> {
    await this.ensure();
    const second = dueSecond(job.due, 0);
    const entry: DueEntry = { id: job.id, a: job.a, due: job.due };
    await this.ctx.store(`${this.head}.${second}`, utf8Bytes(JSON.stringify(entry)));
    const duplicate = await this.ctx.store(this.ctx.names.subject(job.id, kind), encodeWire(job), msgId);
    this.mover?.noteDue(second);
    return duplicate;
  }

  /** Starts moving due jobs from this process (once): one timer and a scan a second. */
  startMover(): void {
    if (this.mover) return;
    const { ctx, head } = this;
    this.mover = new DueSecondMover(
      {
        stream: this.stream,
        wildcard: `${head}.*`,
        subject: (second) => `${head}.${second}`,
        secondOf: (subject) => secondOf(head, subject),
        forward: (m) => this.promote(m),
        // A second holds jobs due within it: read from its start, each promoted at its own due ms.
        leadMs: 1_000,
      },
      { jsm: () => ctx.jsm, logger: ctx.logger, requestTimeoutMs: ctx.options.requestTimeoutMs },
    );
    this.mover.start();
  }

  /** Stops the mover, waiting a bounded time for a move in progress. Idempotent. */
  async stop(): Promise<void> {
    for (const [timer, reject] of this.waits) {
      clearTimeout(timer);
      reject(new Error('the queue closed before a due job was promoted'));
    }
    this.waits.clear();
    await this.mover?.stop();
  }

  private wait(ms: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waits.delete(timer);
        resolve();
      }, ms);
      this.waits.set(timer, reject);
    });
  }

  /**
   * Republishes a due job to its priority subject when its record is still the one the entry points
   * at (not removed, cancelled, moved already or parked again since), then drops the record.
   */
  private async promote(m: JsMsg): Promise<void> {
    const { ctx } = this;
    const { names } = ctx;
    const entry = decodeEntry(m.data);
    if (!entry) return ctx.logger.error({ seq: m.seq }, 'undecodable due entry dropped');
    // Never early: past the due millisecond, since the clock counts whole milliseconds.
    const wait = entry.due - Date.now();
    if (wait >= 0) await this.wait(wait + 1);
    const last = await lastMessage(ctx, names.job(entry.id));
    if (!last) return;
    const kind = names.kindOf(last.subject);
    if (kind !== JobKind.later && kind !== JobKind.backoff) return;
    const job = decodeWire<JobWire>(last.data);
    if (job.a !== entry.a || job.due !== entry.due) return;
    const { due: _due, ...waiting } = job;
    await ctx.store(names.subject(job.id, job.p), encodeWire(waiting), `due:${job.id}:${job.a}:${last.seq}`);
    await ctx.jsm.streams.deleteMessage(names.stream, last.seq, false).catch(() => false);
  }

  /** Creates the due stream once (when missing), before the first job is parked. */
  private ensure(): Promise<void> {
    if (this.ensured) return this.ensured;
    const ensured = (this.ensured = this.create());
    ensured.catch(() => (this.ensured = undefined));
    return ensured;
  }

  private async create(): Promise<void> {
    const { jsm, options: o } = this.ctx;
    const exists = await jsm.streams.info(this.stream).then(
      () => true,
      (err: unknown) => (isNotFound(err) ? false : Promise.reject(err)),
    );
    if (exists) return;
    if (!o.provision) throw new MissingStreamError(this.stream, o.prefix);
    const config = {
      name: this.stream,
      subjects: [`${this.head}.*`],
      retention: RetentionPolicy.Limits,
      storage: o.storage === 'memory' ? StorageType.Memory : StorageType.File,
      num_replicas: o.replicas,
      // Entries are jobs: never dropped to make room.
      discard: DiscardPolicy.New,
    };
    await jsm.streams.add(config).catch(async (err: unknown) => {
      await jsm.streams.info(this.stream).catch(() => Promise.reject(err));
    });
  }
}

function secondOf(head: string, subject: string): number | undefined {
  if (!subject.startsWith(`${head}.`)) return undefined;
  const second = Number(subject.slice(head.length + 1));
  return Number.isSafeInteger(second) ? second : undefined;
}

function decodeEntry(data: Uint8Array): DueEntry | undefined {
  try {
    const entry = JSON.parse(decoder.decode(data)) as Partial<DueEntry>;
    return typeof entry.id === 'string' ? (entry as DueEntry) : undefined;
  } catch {
    return undefined;
  }
}
