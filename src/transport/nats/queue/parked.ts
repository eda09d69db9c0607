import type { Pull } from '../toolkit/pull.js';
import type { QueueContext } from './context.js';
import { dropCancelled } from './cancels.js';
import { HANDBACK_DELAY_MS, queuePull, type QueueMsg } from './msg.js';
import { decodeWire, encodeWire, JobKind, type JobWire } from './wire.js';

/** Parked jobs one worker looks at at once. */
const PARKED_ROOM = 100;
/** Parked jobs this close to due are held until due here rather than sent back for a few ms. */
const DUE_SLACK_MS = 2;

/**
 * A worker's pulls on the parked consumers (`delayed`, `retry`). JetStream 2.9 cannot schedule a
 * message, so a parked job not yet due goes back with `nak(remaining)` once — no try, since tries
 * are counted in the record — and the server delivers it again when due; a due one is
 * republished to its priority (deduplicated per delivery) and acked.
 */
export class ParkedJobs {
  private readonly loops: Pull[] = [];
  private busy = 0;

  constructor(
    private readonly ctx: QueueContext,
    private readonly stopped: () => boolean,
    /** Whether job `id` was cancelled lately: its parked record is dropped, not promoted. */
    private readonly cancelled: (id: string) => boolean = () => false,
  ) {}

  start(): void {
    for (const kind of [JobKind.delayed, JobKind.retry]) {
      const loop: Pull = queuePull(
        this.ctx,
        kind,
        () => PARKED_ROOM,
        () => this.busy,
        (m) => this.receive(m, loop),
      );
      this.loops.push(loop);
      loop.pull();
    }
  }

  private receive(m: QueueMsg, loop: Pull): void {
    if (this.stopped()) return m.nak(HANDBACK_DELAY_MS);
    this.busy++;
    void this.unpark(m).finally(() => {
      this.busy--;
      loop.pull();
    });
  }

  /** Sends a parked job back until due (once: the server redelivers it then), or promotes it. */
  private async unpark(m: QueueMsg): Promise<void> {
    let job: JobWire;
    try {
      job = decodeWire<JobWire>(m.data);
    } catch {
      m.term();
      return;
    }
    if (this.cancelled(job.id)) return dropCancelled(this.ctx, m, job);
    const remaining = (job.due ?? 0) - Date.now();
    if (remaining > DUE_SLACK_MS) return m.nak(remaining);
    // Never early: past the due millisecond, since the clock counts whole milliseconds.
    if (remaining >= 0) await new Promise((r) => setTimeout(r, remaining + 1));
    const { names, logger } = this.ctx;
    try {
      const { due: _due, ...rest } = job;
      await this.ctx.store(names.subject(job.id, job.p), encodeWire(rest), `due:${job.id}:${job.a}:${m.seq}`);
      m.ack();
    } catch (err) {
      logger.warn({ err, jobId: job.id }, 'could not promote a due job; trying again');
      m.nak(1_000);
    }
  }

  async stop(): Promise<void> {
    await Promise.all(this.loops.map(async (l) => l.stop()));
  }
}
