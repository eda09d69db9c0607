import {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  JetStreamApiError,
  RetentionPolicy,
  StorageType,
  type JsMsg,
  type StoredMsg,
  type StreamConfig,
} from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';
import { MissingStreamError } from '../../../errors.js';
import { DueSecondMover, dueSecond } from '../toolkit/due-seconds.js';
import { isNoMessage, isNotFound } from '../toolkit/provision.js';
import { token } from '../toolkit/names.js';
import { lastMessage, storedAfter } from './last-message.js';
import { enterGroup } from './group-entry.js';
import type { JetStreamManager } from '@nats-io/jetstream';
import type { Logger } from '../../../logging.js';
import type { ResolvedNatsOptions } from '../toolkit/options.js';
import type { QueueNames } from '../toolkit/names.js';
import { COUNT_CONSUMERS, decodeWire, encodeWire, JobKind, type JobWire } from './wire.js';
import { utf8Bytes } from '../../../bytes.js';

/** The kinds of a job parked by due time: delayed (`later`) and backing off after a failure (`backoff`). */
export type DueKind = typeof JobKind.later | typeof JobKind.backoff;

/**
 * @returns the parked record when it is the job's current state: newer, by the server's clock,
 * than the job's last record in the queue's stream (`last`)
 */
export function parkedNow(parked: ParkedJob | undefined, last: StoredMsg | null): ParkedJob | undefined {
  return parked && (!last || storedAfter(parked.msg, last)) ? parked : undefined;
}

/** The kinds a job can be parked as. */
export const DUE_KINDS: readonly DueKind[] = [JobKind.later, JobKind.backoff];

/** A parked job's entry on its due second: enough to find its record and tell it is still that one. */
interface DueEntry {
  readonly id: string;
  readonly a: number;
  readonly due: number;
  /** The record's kind; entries written before parked records left the queue stream have none. */
  readonly k?: DueKind;
}

/** A parked job's record: the job, its due time, and the job message it was parked from (0: none). */
export type ParkedWire = JobWire & { readonly due: number; readonly o?: number };

/** A parked job as its record in the parked stream holds it. */
export interface ParkedJob {
  readonly kind: DueKind;
  readonly msg: StoredMsg;
  readonly job: ParkedWire;
}

const decoder = new TextDecoder();

/** What parking and moving jobs use of their queue (its `QueueContext`). */
export interface DueHost {
  readonly jsm: JetStreamManager;
  readonly options: ResolvedNatsOptions;
  readonly logger: Logger;
  readonly names: QueueNames;
  /** How long the parked stream deduplicates a record by its key (as the queue's stream does). */
  readonly dedupWindowMs: number;
  /** Stores a message, confirmed by the broker; true when it was a duplicate. */
  store(subject: string, body: Uint8Array, msgId?: string): Promise<boolean>;
}

/**
 * A queue's jobs that wait for a due time (added with a delay, or backing off before a retry). A
 * parked job is two stored messages, neither in the queue's stream: its record on
 * `<prefix>.qpark.<queue>.<kind>.<job>` in the queue's parked stream (which `getJob`, `counts`,
 * `remove` and `cancel` read), and an entry under `<prefix>.qdue.<queue>.<dueSecond>` in its due
 * stream. So the queue's consumers, which walk their stream's messages, never walk parked jobs.
 * Once the second begins, a worker process's {@link DueSecondMover} reads its entries, republishes
 * each job still parked, at its due millisecond, to its priority subject (deduplicated per parking,
 * so two movers or a move retried after a crash store it once), drops its record, and only then
 * purges the entries it read. A job's current state is its newest record by the server's clock:
 * a `cancelled` record stored after its parking keeps it from ever being promoted.
 * @example
 * const due = new DueJobs(ctx);
 * await due.park(JobKind.later, { ...job, due: Date.now() + 60_000 });
 * due.startMover();
 * await due.stop();
 */
export class DueJobs {
  /** The stream of due entries; `~` keeps it apart from any queue's stream. */
  readonly stream: string;
  /** The stream of parked jobs' records. */
  readonly parkedStream: string;
  private readonly head: string;
  private readonly parkHead: string;
  private ensured: Promise<void> | undefined;
  private mover: DueSecondMover | undefined;
  /** Promotions waiting for their due millisecond: `stop` ends them (their entries stay for the next move). */
  private readonly waits = new Map<NodeJS.Timeout, (err: Error) => void>();

  constructor(private readonly ctx: DueHost) {
    const { names, options } = ctx;
    const queue = names.base.slice(names.base.lastIndexOf('.') + 1);
    this.stream = `${names.stream}~due`;
    this.parkedStream = `${names.stream}~parked`;
    this.head = `${options.prefix}.qdue.${queue}`;
    this.parkHead = `${options.prefix}.qpark.${queue}`;
  }

  /** The subject of job `id`'s parked record of `kind`. */
  private record(kind: DueKind, id: string): string {
    return `${this.parkHead}.${kind}.${token(id)}`;
  }

  /**
   * Parks a job until `job.due`: its due entry first, then its record, so that a record always has
   * an entry (an entry without a record is skipped when due).
   * @param msgId - the record's dedup key
   * @param from - the sequence of the job message it is parked from; 0 for a job added delayed
   * @returns whether the parked stream already held a record with `msgId`
   * @throws {MissingStreamError} when the due streams are missing and may not be created
   * @throws {TransportError} when the server refuses a write or does not answer in time
   */
  async park(
    kind: DueKind,
    job: JobWire & { readonly due: number },
    msgId?: string,
    from = 0,
  ): Promise<boolean> {
    await this.ensure();
    const second = dueSecond(job.due, 0);
    const entry: DueEntry = { id: job.id, a: job.a, due: job.due, k: kind };
    await this.ctx.store(`${this.head}.${second}`, utf8Bytes(JSON.stringify(entry)));
    const record: ParkedWire = from > 0 ? { ...job, o: from } : job;
    const duplicate = await this.ctx.store(this.record(kind, job.id), encodeWire(record), msgId);
    this.mover?.noteDue(second);
    return duplicate;
  }

  /** @returns job `id`'s parked record, the newer when it has one of each kind; undefined for none */
  async find(id: string): Promise<ParkedJob | undefined> {
    const found = await Promise.all(DUE_KINDS.map((kind) => this.read(kind, id)));
    let newest: ParkedJob | undefined;
    for (const p of found) if (p && (!newest || p.msg.seq > newest.msg.seq)) newest = p;
    return newest;
  }

  private async read(kind: DueKind, id: string): Promise<ParkedJob | undefined> {
    const msg = await this.ctx.jsm.streams
      .getMessage(this.parkedStream, { last_by_subj: this.record(kind, id) })
      .catch((err: unknown) => (isNoMessage(err) ? null : Promise.reject(err)));
    return msg ? { kind, msg, job: decodeWire<ParkedWire>(msg.data) } : undefined;
  }

  /**
   * Drops a parked record (by sequence: a newer parking of the job stays). One the server says it
   * does not hold is gone already; a request it did not answer throws.
   */
  async drop(parked: ParkedJob): Promise<void> {
    await this.ctx.jsm.streams
      .deleteMessage(this.parkedStream, parked.msg.seq, false)
      .catch((err: unknown) => {
        if (!(err instanceof JetStreamApiError)) throw err;
      });
  }

  /** Removes every parked record of job `id`. */
  async purge(id: string): Promise<number> {
    const filter = `${this.parkHead}.*.${token(id)}`;
    const { purged } = await this.ctx.jsm.streams
      .purge(this.parkedStream, { filter })
      .catch((err: unknown) => (isNotFound(err) ? { purged: 0 } : Promise.reject(err)));
    return purged;
  }

  /** @returns how many jobs are parked, by kind (0 before the first was parked) */
  async counts(): Promise<Record<DueKind, number>> {
    const { jsm } = this.ctx;
    const [later, backoff] = await Promise.all(
      DUE_KINDS.map((kind) =>
        jsm.consumers.info(this.parkedStream, COUNT_CONSUMERS[kind]).then(
          (info) => info.num_pending,
          (err: unknown) => (isNotFound(err) ? 0 : Promise.reject(err)),
        ),
      ),
    );
    return { later: later ?? 0, backoff: backoff ?? 0 };
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
    const entry = decodeEntry(m.data);
    if (!entry) return ctx.logger.error({ seq: m.seq }, 'undecodable due entry dropped');
    // Never early: past the due millisecond, since the clock counts whole milliseconds.
    const wait = entry.due - Date.now();
    if (wait >= 0) await this.wait(wait + 1);
    if (!entry.k) return this.promoteLegacy(entry);
    const [parked, last] = await Promise.all([
      this.read(entry.k, entry.id),
      lastMessage(ctx, ctx.names.job(entry.id)),
    ]);
    if (!parked || parked.job.a !== entry.a || parked.job.due !== entry.due) return;
    // Cancelled (or settled otherwise) after it was parked: never promoted.
    if (last && storedAfter(last, parked.msg)) return this.drop(parked);
    const { due: _due, o: _from, jg, ...waiting } = parked.job;
    const msgId = `due:${waiting.id}:${waiting.a}:p${parked.msg.seq}`;
    // A job added to an ordered group with a delay joins the end of its group, as if added now.
    if (jg !== undefined) await enterGroup(ctx, { ...waiting, r: jg }, msgId);
    else await ctx.store(ctx.names.subject(waiting.id, waiting.p), encodeWire(waiting), msgId);
    await this.drop(parked);
  }

  /** An entry from before parked records left the queue's stream: its record is there. */
  private async promoteLegacy(entry: DueEntry): Promise<void> {
    const { ctx } = this;
    const { names } = ctx;
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

  /** Creates the due and parked streams once (when missing), before the first job is parked. */
  private ensure(): Promise<void> {
    if (this.ensured) return this.ensured;
    const ensured = (this.ensured = this.create());
    ensured.catch(() => (this.ensured = undefined));
    return ensured;
  }

  private async create(): Promise<void> {
    const { jsm, options: o } = this.ctx;
    // The consumer count of each stream, or -1 for one that is missing.
    const [dueConsumers, parkedConsumers] = await Promise.all(
      [this.stream, this.parkedStream].map((name) =>
        jsm.streams.info(name).then(
          (info) => info.state.consumer_count,
          (err: unknown) => (isNotFound(err) ? -1 : Promise.reject(err)),
        ),
      ),
    );
    const due = dueConsumers! >= 0;
    // Its counting consumers come with the parked stream.
    const parked = parkedConsumers! >= DUE_KINDS.length;
    if (due && parked) return;
    if (!o.provision) {
      if (due && parkedConsumers! >= 0) return; // made by hand: counts need its consumers (see docs)
      throw new MissingStreamError(due ? this.parkedStream : this.stream, o.prefix);
    }
    const base = {
      retention: RetentionPolicy.Limits,
      storage: o.storage === 'memory' ? StorageType.Memory : StorageType.File,
      num_replicas: o.replicas,
      // Entries and records are jobs: never dropped to make room.
      discard: DiscardPolicy.New,
    };
    const add = (config: Partial<StreamConfig> & { name: string }) =>
      jsm.streams.add(config).catch(async (err: unknown) => {
        await jsm.streams.info(config.name).catch(() => Promise.reject(err));
      });
    if (!due) await add({ ...base, name: this.stream, subjects: [`${this.head}.*`] });
    if (parked) return;
    // One record per job and kind: parking a job again replaces its record.
    await add({
      ...base,
      name: this.parkedStream,
      subjects: [`${this.parkHead}.*.*`],
      max_msgs_per_subject: 1,
      duplicate_window: nanos(this.ctx.dedupWindowMs),
    });
    await Promise.all(
      DUE_KINDS.map((kind) =>
        jsm.consumers.add(this.parkedStream, {
          durable_name: COUNT_CONSUMERS[kind],
          filter_subject: `${this.parkHead}.${kind}.*`,
          ack_policy: AckPolicy.None,
          deliver_policy: DeliverPolicy.All,
        }),
      ),
    );
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
