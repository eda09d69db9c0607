import { createActor, fromPromise, type ActorOptions, type AnyActorLogic } from 'xstate';
import type { Clock } from '../clock.js';
import type { Logger } from '../logging.js';
import {
  retryJobMachine,
  type RetryJobContext,
  type RetryJobActorRef,
} from '../machines/retry-job.machine.js';
import type { Backoff } from '../retry/backoff.js';
import type { JobLease, JobSink } from './backend.js';
import { JobClock } from './job-clock.js';
import type { Job, JobInfo, JobState, QueueObserver } from './types.js';

/** A queue's handler. */
export type JobHandler<D = unknown> = (job: Job<D>) => unknown;

/** What a runner needs from its queue. */
export interface RunnerOptions {
  readonly queue: string;
  readonly handler: JobHandler;
  readonly maxAttempts: number;
  readonly backoff: Backoff;
  readonly timeoutMs: number;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly inspect: ActorOptions<AnyActorLogic>['inspect'] | undefined;
  readonly observer: QueueObserver | undefined;
  /** Reports a settled job to the queue's listeners; `undefined` when nobody listens. */
  readonly emit: (state: 'completed' | 'failed' | 'dead', info: () => JobInfo) => void;
}

/** One job in this process: its lease, its actor, and the view its handler sees. */
class Running {
  actor: RetryJobActorRef | undefined;
  started = 0;

  constructor(
    readonly runner: JobRunner,
    readonly lease: JobLease,
  ) {}

  async run(signal: AbortSignal, attempt: number): Promise<unknown> {
    const j = this.lease.job;
    const o = this.runner.options;
    this.started = o.clock.now();
    const job: Job = {
      id: j.id,
      name: j.name,
      data: j.data,
      attempt,
      maxAttempts: j.maxAttempts ?? o.maxAttempts,
      priority: j.priority,
      signal,
    };
    return o.handler(job);
  }

  info(state: JobState, ctx: RetryJobContext): JobInfo {
    const j = this.lease.job;
    return {
      id: j.id,
      name: j.name,
      data: j.data,
      state,
      priority: j.priority,
      attempts: ctx.attempt,
      ...(ctx.error && { error: ctx.error }),
      ...(state === 'completed' && { result: ctx.result }),
    };
  }
}

type Ctx = { context: RetryJobContext };
const running = (ctx: RetryJobContext): Running => ctx.job as Running;

/** A backoff from delays resolved when the job was added. */
function resolvedBackoff(delays: readonly number[]): Backoff {
  return { delay: (n) => delays[Math.min(n, delays.length) - 1] ?? 0 };
}

/**
 * Hosts a retry-job actor for each job this worker takes: created on pick-up, stopped once it
 * settled. Everything else on the hot path (fetching, acking) is plain code in the store.
 */
export class JobRunner implements JobSink {
  readonly active = new Set<Running>();
  private readonly machine;
  private readonly clock: JobClock;
  private idle: (() => void)[] = [];

  constructor(readonly options: RunnerOptions) {
    this.clock = new JobClock(options.clock, options.timeoutMs);
    this.machine = retryJobMachine.provide({
      actors: {
        handler: fromPromise(({ input, signal }) => (input.job as Running).run(signal, input.attempt)),
      },
      actions: {
        onActive: () => options.observer?.onActive?.(options.queue),
        onCompleted: ({ context }: Ctx) => this.completed(running(context), context),
        onFailed: ({ context }: Ctx) => this.failed(running(context), context),
        onDead: ({ context }: Ctx) => this.dead(running(context), context),
        onReleased: ({ context }: Ctx) => this.released(running(context)),
      },
    });
  }

  /** Starts the job's actor; called by the store. */
  take(lease: JobLease): void {
    const o = this.options;
    const r = new Running(this, lease);
    const j = lease.job;
    const actor = createActor(this.machine, {
      input: {
        id: j.id,
        attemptsMade: j.attemptsMade,
        maxAttempts: j.maxAttempts ?? o.maxAttempts,
        backoff: j.backoffMs ? resolvedBackoff(j.backoffMs) : o.backoff,
        timeoutMs: o.timeoutMs,
        delayMs: 0,
        job: r,
      },
      clock: this.clock,
      ...(o.inspect && { inspect: o.inspect }),
    });
    r.actor = actor;
    this.active.add(r);
    actor.start();
    actor.send({ type: 'job.start' });
  }

  private completed(r: Running, ctx: RetryJobContext): void {
    const o = this.options;
    r.lease.complete(ctx.result);
    o.observer?.onCompleted?.(o.queue, o.clock.now() - r.started, ctx.attempt);
    o.emit('completed', () => r.info('completed', ctx));
    this.forget(r, false);
  }

  private failed(r: Running, ctx: RetryJobContext): void {
    const o = this.options;
    const reason = ctx.reason ?? 'handler';
    o.logger.warn(
      { jobId: r.lease.job.id, attempt: ctx.attempt, error: ctx.error },
      'job failed; will retry',
    );
    r.lease.retry(ctx.backoff.delay(ctx.attempt), ctx.error ?? { name: 'Error', message: 'failed' });
    o.observer?.onFailed?.(o.queue, o.clock.now() - r.started, ctx.attempt, reason);
    o.emit('failed', () => r.info('failed', ctx));
    this.forget(r, true);
  }

  private dead(r: Running, ctx: RetryJobContext): void {
    const o = this.options;
    const reason = ctx.reason ?? 'handler';
    o.logger.error({ jobId: r.lease.job.id, attempts: ctx.attempt, error: ctx.error }, 'job is dead');
    r.lease.dead(ctx.error ?? { name: 'Error', message: 'failed' }, reason);
    o.observer?.onDead?.(o.queue, ctx.attempt, reason);
    o.emit('dead', () => r.info('dead', ctx));
    this.forget(r, false);
  }

  private released(r: Running): void {
    r.lease.release();
    this.forget(r, true);
  }

  /** The job left this process; a settled final actor stops by itself, others are stopped here. */
  private forget(r: Running, stop: boolean): void {
    this.active.delete(r);
    // Stopping inside the actor's own transition is not allowed; the next microtask is.
    if (stop) queueMicrotask(() => r.actor?.stop());
    if (this.active.size === 0 && this.idle.length > 0) {
      const waiters = this.idle;
      this.idle = [];
      for (const w of waiters) w();
    }
  }

  /** Resolves once no job is active. */
  whenIdle(): Promise<void> {
    if (this.active.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  /** Hands every active job back untried and aborts its handler. */
  releaseAll(): void {
    for (const r of [...this.active]) r.actor?.send({ type: 'job.release' });
  }

  /** Stops the shared timeout timer; call once idle. */
  stop(): void {
    this.clock.stop();
  }
}
