import type { AnyEventObject } from 'xstate';
import {
  NO_TIMEOUT,
  type HandlerInput,
  type RetryJobContext,
  type RetryJobSnapshot,
} from '../machines/retry-job.machine.js';
import type { JobLease } from './store.js';
import type { JobClock } from './job-clock.js';
import { doneEvent, errorEvent, type SteppedJob } from './job-stepper.js';
import type { RunnerOptions } from './runner-options.js';
import type { JobInfo, Job, JobPriority, JobState } from './types.js';

/** What a running job needs from the runner that took it. */
export interface RunningHost {
  readonly options: RunnerOptions;
  readonly clock: JobClock;
  /** Delivers an event to the job's machine. */
  step(r: Running, event: AnyEventObject): void;
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
export class Running implements SteppedJob {
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
    readonly runner: RunningHost,
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
