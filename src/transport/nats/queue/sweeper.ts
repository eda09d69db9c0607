import type { QueueContext } from './context.js';
import { isNotFound } from '../toolkit/provision.js';
import { nextRecord } from './admin.js';
import { LEGACY_PARKED_KINDS } from './provision.js';
import { decodeWire, FINISHED_KINDS, type JobKind, type SettledWire } from './wire.js';

/** The subjects whose consumers settle a job's live messages: priorities (and jobs parked by an earlier version). */
type WorkKind = Exclude<JobKind, 'done' | 'dead' | 'cancelled' | 'later' | 'backoff'>;

/** How often a worker's process sweeps its queue's stream. */
export const SWEEP_EVERY_MS = 30_000;

/**
 * Keeps a queue's stream from growing without end. JetStream 2.9 keeps every message until a limit
 * or a purge removes it, and a finished job leaves its job message (settled under its consumer)
 * and a `done` or `dead` record. A sweep keeps the newest `keepFinished` records of each outcome,
 * then removes job messages that every consumer has settled (at or below its ack floor) and that
 * are older than the job message of the oldest finished record still kept (records carry it), so
 * a kept job keeps its data as long as jobs finish in about the order they were taken. A live
 * job's messages are never touched: waiting and active ones sit above their consumer's ack floor,
 * and a parked job's record holds everything it needs (a job parked by due time has no job message
 * until it is due: see `due.ts`). Every worker process sweeps; the purges
 * are idempotent.
 * @example
 * const sweeper = new FinishedJobSweeper(ctx, WORK_KINDS, 10_000);
 * sweeper.start();
 */
export class FinishedJobSweeper {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<number> | undefined;
  /**
   * The bound each purge by sequence last ran with: a purge that would not reach further removes
   * nothing, and is not sent (a filtered purge scans the stream on the server).
   */
  private readonly purgedBelow = new Map<string, number>();
  /** The stream's last sequence when the last sweep began. */
  private sweptUpTo: number | undefined;

  /**
   * @param workKinds - the consumers that settle a job's live messages
   * @param keepFinished - finished jobs kept per outcome
   */
  constructor(
    private readonly ctx: QueueContext,
    private readonly workKinds: readonly WorkKind[],
    private readonly keepFinished: number,
  ) {}

  /** Sweeps every {@link SWEEP_EVERY_MS} until {@link stop}. */
  start(everyMs = SWEEP_EVERY_MS): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      this.sweep().catch((err: unknown) => this.ctx.logger.warn({ err }, 'finished-job sweep failed'));
    }, everyMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One sweep (joins one already running). @returns how many messages it removed */
  sweep(): Promise<number> {
    return (this.running ??= this.run().finally(() => (this.running = undefined)));
  }

  /**
   * Sweeps unless nothing was stored since the last sweep: every step that settles a job stores a
   * record, so an idle queue's sweep costs one stream info (without subjects).
   */
  private async run(): Promise<number> {
    const { jsm, names } = this.ctx;
    const lastSeq = (await jsm.streams.info(names.stream)).state.last_seq;
    if (lastSeq === this.sweptUpTo) return 0;
    const removed = await this.purgeFinished();
    this.sweptUpTo = lastSeq;
    return removed;
  }

  private async purgeFinished(): Promise<number> {
    const { jsm, names } = this.ctx;
    const { keepFinished } = this;
    let removed = 0;
    let kept = Infinity;
    for (const kind of FINISHED_KINDS) {
      removed += (await jsm.streams.purge(names.stream, { filter: names.filter(kind), keep: keepFinished }))
        .purged;
      kept = Math.min(kept, await this.firstSeq(kind));
    }
    let live = Infinity;
    for (const kind of [...this.workKinds, ...LEGACY_PARKED_KINDS]) {
      const info = await jsm.consumers.info(names.stream, kind).catch((err: unknown) => {
        if (isNotFound(err)) return undefined;
        throw err;
      });
      if (!info) continue;
      const settledUpTo = info.ack_floor.stream_seq;
      live = Math.min(live, settledUpTo + 1);
      removed += await this.purgeBelow(names.filter(kind), Math.min(settledUpTo + 1, kept));
    }
    // Progress and logs older than every kept record and every live job message belong to jobs that
    // are gone: a live job's earlier notes travel in its record (a retry carries them).
    removed += await this.purgeBelow(`${names.base}.*.x.>`, Math.min(live, kept));
    return removed;
  }

  /** Purges the messages on `filter` below `seq`, unless an earlier sweep already did. */
  private async purgeBelow(filter: string, seq: number): Promise<number> {
    if (seq <= 1 || seq === Infinity || seq <= (this.purgedBelow.get(filter) ?? 0)) return 0;
    const { purged } = await this.ctx.jsm.streams.purge(this.ctx.names.stream, { filter, seq });
    this.purgedBelow.set(filter, seq);
    return purged;
  }

  /**
   * @returns the stream sequence of the job message settled by the oldest record of `kind` (the
   * record's own, for records written without it), or Infinity when there is none
   */
  private async firstSeq(kind: JobKind): Promise<number> {
    const msg = await nextRecord(this.ctx, kind, 0);
    if (!msg) return Infinity;
    const settled = decodeWire<SettledWire>(msg.data);
    return typeof settled.q === 'number' ? settled.q : msg.seq;
  }
}
