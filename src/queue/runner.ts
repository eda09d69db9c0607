import type { AnyEventObject } from 'xstate';
import type { RetryJobContext } from '../machines/retry-job.machine.js';
import type { Backoff } from '../retry/backoff.js';
import type { JobLease, JobSink } from './store.js';
import { JobClock } from './job-clock.js';
import { JobStepper } from './job-stepper.js';
import { Running } from './running-job.js';
import type { RunnerOptions } from './runner-options.js';

type Ctx = { context: RetryJobContext };
const running = (ctx: RetryJobContext): Running => ctx.job as Running;
const RELEASE: AnyEventObject = Object.freeze({ type: 'job.release' });
/**
 * Hand-outs of one record beyond its remaining attempts before the job is dead as stalled: a job
 * that kills its worker every time is redelivered after each ack wait, and would loop forever.
 * The margin covers records handed back by workers that were closed (a hand-back is a redelivery).
 */
export const STALL_MARGIN = 5;

/** A backoff from delays resolved when the job was added. */
function resolvedBackoff(delays: readonly number[]): Backoff {
  return { delay: (n) => delays[Math.min(n, delays.length) - 1] ?? 0 };
}

/**
 * Runs a retry-job machine for each job this worker takes, from pick-up until it settles: the
 * job's snapshot is restored at `waiting` and stepped by a {@link JobStepper}, which runs the
 * handler try, the timeout and the settle actions the machine asks for. Fetching and acking is
 * plain code in the store.
 */
export class JobRunner implements JobSink {
  readonly active = new Set<Running>();
  /** When a job was last taken or settled (the clock's ms): a worker that does neither for long is stalled. */
  lastProgress: number;
  readonly clock: JobClock;
  private readonly stepper: JobStepper;
  private idle: (() => void)[] = [];

  constructor(readonly options: RunnerOptions) {
    this.lastProgress = options.clock.now();
    this.clock = new JobClock(options.clock, options.timeoutMs);
    this.stepper = new JobStepper(
      {
        onActive: () => options.observer?.onActive?.(options.queue),
        onCompleted: ({ context }: Ctx) => this.completed(running(context), context),
        onFailed: ({ context }: Ctx) => this.failed(running(context), context),
        onDead: ({ context }: Ctx) => this.dead(running(context), context),
        onReleased: ({ context }: Ctx) => this.released(running(context)),
      },
      options.inspect,
    );
  }

  /** Starts the job's machine; called by the store. */
  take(lease: JobLease): void {
    const o = this.options;
    this.lastProgress = o.clock.now();
    const r = new Running(this, lease);
    const j = lease.job;
    const maxAttempts = j.maxAttempts ?? o.maxAttempts;
    const earlier = (j.deliveries ?? 1) - 1;
    const stalled = j.attemptsMade + earlier >= maxAttempts + STALL_MARGIN;
    this.active.add(r);
    const input = {
      id: j.id,
      attemptsMade: j.attemptsMade,
      maxAttempts,
      backoff: j.backoffMs ? resolvedBackoff(j.backoffMs) : o.backoff,
      timeoutMs: o.timeoutMs,
      delayMs: 0,
      job: r,
    };
    if (stalled) this.stepper.begin(r, input, { type: 'job.stalled', deliveries: earlier });
    else this.stepper.begin(r, input);
  }

  /** Delivers an event to one job's machine. */
  step(r: Running, event: AnyEventObject): void {
    this.stepper.step(r, event);
  }

  private completed(r: Running, ctx: RetryJobContext): void {
    const o = this.options;
    this.forget(r);
    r.lease.complete(ctx.result);
    o.observer?.onCompleted?.(o.queue, o.clock.now() - r.started, ctx.attempt);
    o.emit('completed', () => r.info('completed', ctx));
    this.notifyIdle();
  }

  private failed(r: Running, ctx: RetryJobContext): void {
    const o = this.options;
    const reason = ctx.reason ?? 'handler';
    this.forget(r);
    o.logger.warn(
      { jobId: r.lease.job.id, attempt: ctx.attempt, error: ctx.error },
      'job failed; will retry',
    );
    r.lease.retry(ctx.backoff.delay(ctx.attempt), ctx.error ?? { name: 'Error', message: 'failed' });
    o.observer?.onFailed?.(o.queue, o.clock.now() - r.started, ctx.attempt, reason);
    o.emit('failed', () => r.info('failed', ctx));
    this.notifyIdle();
  }

  private dead(r: Running, ctx: RetryJobContext): void {
    const o = this.options;
    const reason = ctx.reason ?? 'handler';
    this.forget(r);
    o.logger.error({ jobId: r.lease.job.id, attempts: ctx.attempt, error: ctx.error }, 'job is dead');
    r.lease.dead(ctx.error ?? { name: 'Error', message: 'failed' }, reason, ctx.attempt);
    o.observer?.onDead?.(o.queue, ctx.attempt, reason);
    o.emit('dead', () => r.info('dead', ctx));
    this.notifyIdle();
  }

  private released(r: Running): void {
    this.forget(r);
    r.lease.release();
    this.notifyIdle();
  }

  /** The job leaves this process: the store keeps its backoff and later tries. */
  private forget(r: Running): void {
    r.leave();
    this.active.delete(r);
    this.lastProgress = this.options.clock.now();
  }

  private notifyIdle(): void {
    if (this.active.size === 0 && this.idle.length > 0) {
      const waiters = this.idle;
      this.idle = [];
      for (const w of waiters) w();
    }
  }

  /** @returns true when jobs are active but none was taken or settled for `afterMs` */
  stalled(afterMs: number): boolean {
    return this.active.size > 0 && this.options.clock.now() - this.lastProgress >= afterMs;
  }

  /** Resolves once no job is active. */
  whenIdle(): Promise<void> {
    if (this.active.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  /** Hands every active job back untried and aborts its handler. */
  releaseAll(): void {
    for (const r of [...this.active]) this.step(r, RELEASE);
  }

  /** Stops the shared timeout timer; call once idle. */
  stop(): void {
    this.clock.stop();
  }
}
