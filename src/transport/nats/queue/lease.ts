import type { JobDeathReason, JobLease, StoredJob } from '../../../queue/store.js';
import { jobDeadLetter } from '../../../queue/dead-letter.js';
import type { JobError } from '../../../queue/types.js';
import { encodeWire, JobKind, settledWire, type JobWire } from './wire.js';
import type { QueueContext } from './context.js';
import { HANDBACK_DELAY_MS, type QueueMsg } from './msg.js';

/** The worker a lease belongs to. */
export interface LeaseOwner {
  readonly ctx: QueueContext;
  /** The lease settled: its slot is free. */
  settled(lease: NatsJobLease): void;
  /** Calls `lease.finish()` at the end of this event-loop turn, with every other completion of it. */
  finishLater(lease: NatsJobLease): void;
}

/**
 * One job held by one worker. Completing publishes the `done` record without waiting for the
 * server (it is the job's only extra write on the hot path) and acks, both at the end of the
 * event-loop turn with every other completion of it, so that they reach the socket in one write; a
 * retry and a death are stored (awaiting the server) before the ack, so a crash in between repeats
 * the step, deduplicated.
 */
export class NatsJobLease implements JobLease {
  readonly job: StoredJob;
  private done = false;
  private result: unknown = undefined;

  constructor(
    private readonly worker: LeaseOwner,
    private readonly msg: QueueMsg,
    private readonly wire: JobWire,
  ) {
    this.job = {
      id: wire.id,
      name: wire.n,
      data: wire.d,
      priority: wire.p,
      attemptsMade: wire.a,
      maxAttempts: wire.m,
      backoffMs: wire.b,
      deliveries: msg.delivered,
    };
  }

  complete(result: unknown): void {
    if (!this.settle()) return;
    this.result = result;
    this.worker.finishLater(this);
  }

  /** Writes the `done` record and acks; the worker batches these per event-loop turn. */
  finish(): void {
    const { nc, names } = this.worker.ctx;
    nc.publish(
      names.subject(this.wire.id, JobKind.done),
      settledWire(this.wire, this.msg.seq, this.wire.a + 1, this.result),
    );
    this.msg.ack();
  }

  retry(delayMs: number, error: JobError): void {
    if (!this.settle()) return;
    const w = this.wire;
    const next: JobWire = { ...w, a: w.a + 1, e: error, ...(delayMs > 0 && { due: Date.now() + delayMs }) };
    const kind = delayMs > 0 ? JobKind.retry : w.p;
    void this.store(kind, encodeWire(next), `retry:${w.id}:${next.a}`, delayMs);
  }

  dead(error: JobError, reason: JobDeathReason, attempts: number): void {
    if (!this.settle()) return;
    const ctx = this.worker.ctx;
    const draft = jobDeadLetter(ctx.queue, this.job, error, reason, attempts, Date.now());
    void ctx
      .writeDeadLetter(draft, this.msg.subject, this.msg.seq)
      .then(() =>
        this.store(
          JobKind.dead,
          settledWire(this.wire, this.msg.seq, attempts, undefined, error),
          `dead:${this.wire.id}`,
          1_000,
        ),
      )
      .catch((err: unknown) => {
        ctx.logger.error({ err, jobId: this.wire.id }, 'dead-letter write failed; the job comes back');
        this.msg.nak(1_000);
      });
  }

  release(): void {
    if (this.settle()) this.msg.nak(HANDBACK_DELAY_MS);
  }

  working(): void {
    if (!this.done) this.msg.working();
  }

  /** Stores the job's next record, then acks; on failure the job comes back after `retryMs`. */
  private async store(kind: JobKind, body: Uint8Array, msgId: string, retryMs: number): Promise<void> {
    const ctx = this.worker.ctx;
    try {
      await ctx.store(ctx.names.subject(this.wire.id, kind), body, msgId);
      this.msg.ack();
    } catch (err) {
      ctx.logger.warn({ err, jobId: this.wire.id }, 'could not store a job step; the job comes back');
      this.msg.nak(retryMs);
    }
  }

  private settle(): boolean {
    if (this.done) return false;
    this.done = true;
    this.worker.settled(this);
    return true;
  }
}
