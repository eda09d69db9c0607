import type { Pull } from '../toolkit/pull.js';
import type { QueueContext } from './context.js';
import { dropCancelled } from './cancels.js';
import { HANDBACK_DELAY_MS, queuePull, type QueueMsg } from './msg.js';
import { LEGACY_PARKED_KINDS } from './provision.js';
import { decodeWire, encodeWire, type JobKind, type JobWire } from './wire.js';

/** Parked jobs one worker looks at at once. */
const PARKED_ROOM = 100;
/** Parked jobs this close to due are held until due here rather than sent back for a few ms. */
const DUE_SLACK_MS = 2;

/** How often a drain asks whether its consumer still holds jobs. */
const DRAIN_CHECK_MS = 10_000;

/**
 * Drains jobs parked by an earlier version on the `delayed` and `retry` consumers (jobs parked now
 * wait by due time: see `due.ts`). A worker pulls a consumer only while it holds anything, and stops
 * once it is empty. A parked job not yet due goes back with `nak(remaining)` once — no try, since
 * tries are counted in the record — and the server delivers it again when due; a due one is
 * republished to its priority (deduplicated per delivery) and acked.
 */
export class ParkedJobs {
  private readonly loops: Pull[] = [];
  private readonly checks: NodeJS.Timeout[] = [];
  private busy = 0;

  constructor(
    private readonly ctx: QueueContext,
    private readonly stopped: () => boolean,
    /** Whether job `id` was cancelled lately: its parked record is dropped, not promoted. */
    private readonly cancelled: (id: string) => boolean = () => false,
  ) {}

  start(): void {
    for (const kind of LEGACY_PARKED_KINDS) void this.drain(kind);
  }

  private async drain(kind: JobKind): Promise<void> {
    if (!(await this.holdsJobs(kind)) || this.stopped()) return;
    const loop: Pull = queuePull(
      this.ctx,
      kind,
      () => PARKED_ROOM,
      () => this.busy,
      (m) => this.receive(m, loop),
    );
    this.loops.push(loop);
    loop.pull();
    const check = setInterval(() => {
      void this.holdsJobs(kind).then((any) => {
        if (any) return;
        clearInterval(check);
        void loop.stop();
      });
    }, DRAIN_CHECK_MS);
    check.unref();
    this.checks.push(check);
  }

  /** Whether the consumer of `kind` exists and holds a job, delivered or not. */
  private async holdsJobs(kind: JobKind): Promise<boolean> {
    const { jsm, names } = this.ctx;
    const info = await jsm.consumers.info(names.stream, kind).catch(() => undefined);
    return info !== undefined && info.num_pending + info.num_ack_pending > 0;
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
    for (const check of this.checks) clearInterval(check);
    await Promise.all(this.loops.map(async (l) => l.stop()));
  }
}
