import type { ActorOptions, AnyActorLogic, AnyEventObject } from 'xstate';
import type { Clock } from '../clock.js';
import type { Logger } from '../logging.js';
import {
  NO_TIMEOUT,
  type HandlerInput,
  type RetryJobContext,
  type RetryJobSnapshot,
} from '../machines/retry-job.machine.js';
import type { Backoff } from '../retry/backoff.js';
import type { JobLease, JobSink } from './backend.js';
import { JobClock } from './job-clock.js';
import { doneEvent, errorEvent, JobStepper, type SteppedJob } from './job-stepper.js';
import type { Job, JobInfo, JobPriority, JobState, QueueObserver } from './types.js';

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

/** What a handler sees of its try; the signal is made on first use (most handlers never read it). */
class JobView implements Job {
  readonly id: string;
  readonly name: string;
  readonly data: unknown;
  readonly maxAttempts: number;
  readonly priority: JobPriority;

  constructor(
    private readonly run: Running,
    readonly attempt: number,
  ) {
    const j = run.lease.job;
    this.id = j.id;
    this.name = j.name;
    this.data = j.data;
    this.maxAttempts = j.maxAttempts ?? run.runner.options.maxAttempts;
    this.priority = j.priority;
  }

  get signal(): AbortSignal {
    return this.run.signal();
  }
}

/** One job in this process: its lease, its machine snapshot, and the effects the machine asks for. */
class Running implements SteppedJob {
  snapshot!: RetryJobSnapshot;
  started = 0;
  /** False once the job left this process: late timers and results are ignored. */
  live = true;
  /** The running try's number; 0 when none runs. */
  private running = 0;
  private stopped = false;
  private controller: AbortController | undefined;
  private timers: Map<string, unknown> | undefined;

  constructor(
    readonly runner: JobRunner,
    readonly lease: JobLease,
  ) {}

  startTry(input: HandlerInput): void {
    const token = (this.running = input.attempt);
    const o = this.runner.options;
    this.started = o.clock.now();
    let out: unknown;
    try {
      out = o.handler(new JobView(this, input.attempt));
    } catch (err) {
      out = Promise.reject(err);
    }
    Promise.resolve(out).then(
      (v) => this.settleTry(token, doneEvent(v)),
      (err: unknown) => this.settleTry(token, errorEvent(err)),
    );
  }

  private settleTry(token: number, event: AnyEventObject): void {
    if (this.running !== token || !this.live) return;
    this.running = 0;
    this.runner.step(this, event);
  }

  stopTry(): void {
    if (this.running === 0) return;
    this.running = 0;
    this.stopped = true;
    this.controller?.abort();
  }

  signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.stopped) this.controller.abort();
    }
    return this.controller.signal;
  }

  schedule(id: string, event: AnyEventObject, delayMs: number): void {
    if (!this.live || delayMs >= NO_TIMEOUT) return;
    const clock = this.runner.clock;
    const handle = clock.setTimeout(() => {
      this.timers?.delete(id);
      if (this.live) this.runner.step(this, event);
    }, delayMs);
    (this.timers ??= new Map()).set(id, handle);
  }

  cancel(id: string): void {
    const handle = this.timers?.get(id);
    if (handle === undefined) return;
    this.timers!.delete(id);
    this.runner.clock.clearTimeout(handle);
  }

  /** The job left this process. */
  leave(): void {
    this.live = false;
    if (this.timers) for (const id of [...this.timers.keys()]) this.cancel(id);
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
  readonly clock: JobClock;
  private readonly stepper: JobStepper;
  private idle: (() => void)[] = [];

  constructor(readonly options: RunnerOptions) {
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
  }

  private notifyIdle(): void {
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
    for (const r of [...this.active]) this.step(r, RELEASE);
  }

  /** Stops the shared timeout timer; call once idle. */
  stop(): void {
    this.clock.stop();
  }
}
