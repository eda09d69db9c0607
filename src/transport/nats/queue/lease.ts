import { sleep } from '../../../time/sleep.js';
import type { JobDeathReason, JobLease, JobNotes, SettleHook, StoredJob } from '../../../queue/store.js';
import { jobDeadLetter } from '../../../queue/dead-letter.js';
import type { JobError } from '../../../queue/types.js';
import { cancelledWire, encodeWire, JobKind, NoteKind, notesOf, settledWire, type JobWire } from './wire.js';
import type { QueueContext } from './context.js';
import { groupOf } from './groups.js';
import { HANDBACK_DELAY_MS, type QueueMsg } from './msg.js';
import { utf8Bytes } from '../../../bytes.js';

/** Waits between tries of a write the broker did not confirm (a leader election, a lost answer). */
const STORE_TRIES_MS = [100, 250, 500, 1_000, 2_000, 4_000] as const;

/** The worker a lease belongs to. */
export interface LeaseOwner {
  readonly ctx: QueueContext;
  /** The lease settled: its slot is free (its step may still be on its way to the broker). */
  settled(lease: NatsJobLease): void;
  /** The lease's message is answered (acked, or sent back): the broker has the last word on it. */
  answered(lease: NatsJobLease): void;
  /** The job's record of kind `kind` is stored (and its message acked). */
  stored(job: JobWire, kind: JobKind): void;
  /** Calls `lease.finish()` at the end of this event-loop turn, with every other completion of it. */
  finishLater(lease: NatsJobLease): void;
}

/**
 * One job held by one worker. Every step that settles it (completed, retried, dead) is stored and
 * confirmed by the broker before the job message is acked, so a crash or a leader election in
 * between repeats the step, deduplicated, instead of losing it. Completions start at the end of the
 * event-loop turn with every other completion of it, so that their writes share socket writes.
 */
export class NatsJobLease implements JobLease {
  readonly job: StoredJob;
  private done = false;
  private result: unknown = undefined;
  /** The job's progress and logs as the store has them, and as this try last reported them. */
  private notes: JobNotes | undefined;

  constructor(
    private readonly worker: LeaseOwner,
    private readonly msg: QueueMsg,
    private readonly wire: JobWire,
  ) {
    this.notes = notesOf(wire);
    const group = groupOf(wire);
    this.job = {
      id: wire.id,
      name: wire.n,
      data: wire.d,
      priority: wire.p,
      attemptsMade: wire.a,
      maxAttempts: wire.m,
      backoffMs: wire.b,
      deliveries: msg.delivered,
      ...(wire.s !== undefined && { machine: wire.s }),
      ...(this.notes && { notes: this.notes }),
      ...(wire.f && { flow: wire.f }),
      ...(group !== undefined && { group }),
    };
  }

  complete(result: unknown, before?: SettleHook): void {
    if (!this.settle()) return;
    this.result = result;
    this.after(before, () => this.worker.finishLater(this));
  }

  /** Stores the `done` record, then acks; the worker starts these at the end of the event-loop turn. */
  finish(): void {
    const w = this.wire;
    const body = settledWire(w, this.msg.seq, w.a + 1, this.result, undefined, this.worker.ctx.resultRoom);
    // No dedup key: a repeated write lands on the job's own `done` subject, which keeps one message,
    // and a key per completion would fill the stream's dedup window (a day) with every job.
    this.worker.ctx.track(this.store(JobKind.done, body, undefined, 1_000));
  }

  retry(delayMs: number, error: JobError, machine?: unknown): void {
    if (!this.settle()) return;
    const w = this.wire;
    const notes = this.notes;
    const next: JobWire = {
      ...w,
      a: w.a + 1,
      e: error,
      s: machine,
      ...(notes?.progress !== undefined && { g: notes.progress }),
      ...(notes?.logs && { l: notes.logs }),
    };
    const ctx = this.worker.ctx;
    const msgId = this.msgId(JobKind.retry);
    if (delayMs <= 0) return ctx.track(this.store(w.p, encodeWire(next), msgId, 0));
    // Backing off, the job is parked by its due time: nothing holds it on the server meanwhile.
    const parked = { ...next, due: Date.now() + delayMs };
    ctx.track(this.settleWith(() => ctx.due.park(JobKind.backoff, parked, msgId, this.msg.seq), delayMs));
  }

  dead(error: JobError, reason: JobDeathReason, attempts: number, before?: SettleHook): void {
    if (this.settle()) this.after(before, () => this.writeDead(error, reason, attempts));
  }

  /** Stores the dead letter, then the `dead` record, then acks. */
  private writeDead(error: JobError, reason: JobDeathReason, attempts: number): void {
    const ctx = this.worker.ctx;
    const draft = jobDeadLetter(ctx.queue, this.job, error, reason, attempts, Date.now());
    const written = this.durably(() => ctx.writeDeadLetter(draft, this.msg.subject, this.msg.seq))
      .then(() =>
        this.store(
          JobKind.dead,
          settledWire(this.wire, this.msg.seq, attempts, undefined, error),
          this.msgId(JobKind.dead),
          1_000,
        ),
      )
      .catch((err: unknown) => {
        ctx.logger.error({ err, jobId: this.wire.id }, 'dead-letter write failed; the job comes back');
        this.answer(false, 1_000);
      });
    ctx.track(written);
  }

  release(): void {
    if (this.settle()) this.answer(false, HANDBACK_DELAY_MS);
  }

  /** Parks the job as delayed, tries unchanged: a new message, so no delivery is counted. */
  defer(delayMs: number): void {
    if (!this.settle()) return;
    const ctx = this.worker.ctx;
    const parked = { ...this.wire, due: Date.now() + delayMs };
    const msgId = this.msgId(JobKind.later);
    ctx.track(
      this.settleWith(() => ctx.due.park(JobKind.later, parked, msgId, this.msg.seq), HANDBACK_DELAY_MS),
    );
  }

  cancel(attempts: number, before?: SettleHook): void {
    if (!this.settle()) return;
    const body = cancelledWire(this.wire, this.msg.seq, attempts);
    const msgId = this.msgId(JobKind.cancelled);
    this.after(before, () => this.worker.ctx.track(this.store(JobKind.cancelled, body, msgId, 1_000)));
  }

  /**
   * Runs `step` at once, or once `before` resolved (the worker's slot is already free); a `before`
   * that fails sends the job back.
   */
  private after(before: SettleHook | undefined, step: () => void): void {
    if (!before) return step();
    const ctx = this.worker.ctx;
    const failed = (err: unknown): void => {
      ctx.logger.warn({ err, jobId: this.wire.id }, 'a step before settling failed; the job comes back');
      this.answer(false, 1_000);
    };
    ctx.track(before().then(step, failed));
  }

  /** Writes what changed, one message per kind; the stream keeps the latest of each. */
  note(notes: JobNotes): void {
    if (this.done) return;
    const before = this.notes;
    this.notes = notes;
    if (notes.progress !== undefined && notes.progress !== before?.progress)
      this.writeNote(NoteKind.progress, notes.progress);
    if (notes.logs && notes.logs !== before?.logs) this.writeNote(NoteKind.logs, notes.logs);
  }

  private writeNote(kind: string, value: unknown): void {
    const ctx = this.worker.ctx;
    const body = utf8Bytes(JSON.stringify(value));
    const write = ctx.store(ctx.names.subject(this.wire.id, kind), body).then(
      () => undefined,
      (err: unknown) => ctx.logger.debug({ err, jobId: this.wire.id }, 'could not store job progress'),
    );
    ctx.track(write);
  }

  working(): void {
    if (!this.done) this.msg.working();
  }

  /**
   * The dedup key of the record that settles this delivery. The job message's stream sequence makes
   * it unique per step and per life of the job (a redriven job is a new message), while a
   * redelivery of the same message (its worker died before the ack) repeats the same key.
   */
  private msgId(kind: JobKind): string {
    return `${kind}:${this.wire.id}:${this.msg.seq}`;
  }

  /**
   * Stores the job's next record, then acks: the step is durable before the message goes. The first
   * try is one publish; one the broker did not confirm goes on as {@link settleWith}'s next tries.
   */
  private store(kind: JobKind, body: Uint8Array, msgId: string | undefined, retryMs: number): Promise<void> {
    const ctx = this.worker.ctx;
    const subject = ctx.names.subject(this.wire.id, kind);
    // One promise on the happy path: the confirmed write is acked and told where it happens.
    return ctx.publish(subject, body, msgId).then(
      () => {
        this.ack();
        this.worker.stored(this.wire, kind);
      },
      async () => {
        if (await this.settleWith(() => ctx.publish(subject, body, msgId), retryMs, 1))
          this.worker.stored(this.wire, kind);
      },
    );
  }

  /** The job message's stream sequence: a redelivery of it while this lease holds it is a copy. */
  get seq(): number {
    return this.msg.seq;
  }

  /** Acks the job message; on a closed connection it comes back after the ack wait, as from a crash. */
  private ack(): void {
    try {
      this.answer(true);
    } catch (err) {
      this.worker.ctx.logger.warn({ err, jobId: this.wire.id }, 'could not ack a stored job step');
    }
  }

  /** The last word on this delivery: ack, or send back after `delayMs`. The worker hears of it either way. */
  private answer(ack: boolean, delayMs = 0): void {
    try {
      if (ack) this.msg.ack();
      else this.msg.nak(delayMs);
    } finally {
      this.worker.answered(this);
    }
  }

  /**
   * Runs `write` until the broker confirms it, then acks; on failure the job comes back after `retryMs`.
   * @returns whether the write was stored
   */
  private async settleWith(write: () => Promise<unknown>, retryMs: number, tried = 0): Promise<boolean> {
    const ctx = this.worker.ctx;
    try {
      await this.durably(write, tried);
    } catch (err) {
      ctx.logger.warn({ err, jobId: this.wire.id }, 'could not store a job step; the job comes back');
      this.answer(false, retryMs);
      return false;
    }
    this.ack();
    return true;
  }

  /**
   * Runs a write until the broker confirms it (a leader election takes a few seconds), keeping the
   * job message's lease alive meanwhile; the write's dedup key makes each try safe to repeat.
   * @param tried - tries already made and failed
   * @throws the last error once {@link STORE_TRIES_MS} are spent
   */
  private async durably(write: () => Promise<unknown>, tried = 0): Promise<void> {
    for (let i = tried; ; i++) {
      if (i > 0) {
        this.msg.working();
        await sleep(STORE_TRIES_MS[i - 1]!);
      }
      try {
        await write();
        return;
      } catch (err) {
        if (i >= STORE_TRIES_MS.length) throw err;
      }
    }
  }

  private settle(): boolean {
    if (this.done) return false;
    this.done = true;
    this.worker.settled(this);
    return true;
  }
}
