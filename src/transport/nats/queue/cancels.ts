import type { Subscription } from '@nats-io/transport-node';
import type { QueueContext } from './context.js';
import type { QueueMsg } from './msg.js';
import { cancelledWire, JobKind, type JobWire } from './wire.js';

/** How long a cancel notice is remembered: it covers jobs fetched or parked around the cancel. */
const REMEMBER_MS = 120_000;
/** Notices remembered at most; the oldest go first. */
const MAX_REMEMBERED = 10_000;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** @returns the core subject a queue's cancel notices travel on (outside the queue's stream) */
export function cancelSubject(ctx: QueueContext): string {
  const queueToken = ctx.names.base.slice(ctx.names.base.lastIndexOf('.') + 1);
  return `${ctx.options.prefix}.qcancel.${queueToken}`;
}

/**
 * Cancel notices of one queue in this process: a core NATS subscription that every process with a
 * worker of the queue holds. A notice goes to each local worker (which aborts the job when it holds
 * it) and is remembered for a while, so that a worker that fetched the job ahead, or a parked job
 * being promoted, drops it instead of running it.
 */
export class CancelNotices {
  private sub: Subscription | undefined;
  private readonly recent = new Map<string, number>();

  constructor(
    private readonly ctx: QueueContext,
    private readonly deliver: (id: string) => void,
  ) {}

  /** Subscribes (once). */
  listen(): void {
    this.sub ??= this.ctx.nc.subscribe(cancelSubject(this.ctx), {
      callback: (_err, msg) => {
        const id = decodeId(msg.data);
        if (id === undefined) return;
        this.remember(id);
        this.deliver(id);
      },
    });
  }

  /** Tells every process's workers of the queue (this one's through its own subscription) that job `id` is cancelled. */
  send(id: string): void {
    this.remember(id);
    this.ctx.nc.publish(cancelSubject(this.ctx), encoder.encode(JSON.stringify({ id })));
  }

  /** @returns whether job `id` was cancelled lately */
  has(id: string): boolean {
    if (this.recent.size === 0) return false;
    const until = this.recent.get(id);
    if (until === undefined) return false;
    if (until > Date.now()) return true;
    this.recent.delete(id);
    return false;
  }

  private remember(id: string): void {
    this.recent.delete(id);
    this.recent.set(id, Date.now() + REMEMBER_MS);
    if (this.recent.size > MAX_REMEMBERED) this.recent.delete(this.recent.keys().next().value!);
  }

  /** Unsubscribes. Idempotent. */
  close(): void {
    this.sub?.unsubscribe();
    this.sub = undefined;
  }
}

/**
 * Drops a job message of a job cancelled lately (fetched ahead, or parked, as the cancel came):
 * its `cancelled` record is stored again after it (deduplicated per message), since a retry or a
 * promotion may have written a newer live record than the canceller's, then the message is acked.
 */
export async function dropCancelled(ctx: QueueContext, m: QueueMsg, job: JobWire): Promise<void> {
  const subject = ctx.names.subject(job.id, JobKind.cancelled);
  try {
    await ctx.store(subject, cancelledWire(job, m.seq, job.a), `cancelled:${job.id}:${m.seq}`);
    m.ack();
  } catch (err) {
    ctx.logger.warn({ err, jobId: job.id }, 'could not store a cancelled record; the job comes back');
    m.nak(1_000);
  }
}

function decodeId(data: Uint8Array): string | undefined {
  try {
    const { id } = JSON.parse(decoder.decode(data)) as { id?: unknown };
    return typeof id === 'string' ? id : undefined;
  } catch {
    return undefined;
  }
}
