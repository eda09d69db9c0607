import type { RetryJobActorRef, RetryJobContext } from '../machines/retry-job.machine.js';
import type { JobLease } from './store.js';
import type { RunnerOptions } from './runner-options.js';
import type { JobInfo, Job, JobPriority, JobProgress, JobState } from './types.js';
import { checkProgress, notesInfo, pushLog } from './job-notes.js';
import type { ChildrenResults } from './flow-types.js';

/** What a held job needs from the worker that took it. */
export interface JobHolder {
  readonly options: RunnerOptions;
}

/** What a handler sees of its try; the signal is made on first use (most handlers never read it). */
class JobView implements Job {
  readonly id: string;
  readonly name: string;
  readonly data: unknown;
  readonly maxAttempts: number;
  readonly priority: JobPriority;

  constructor(
    private readonly held: HeldJob,
    readonly attempt: number,
  ) {
    const j = held.lease.job;
    this.id = j.id;
    this.name = j.name;
    this.data = j.data;
    this.maxAttempts = j.maxAttempts ?? held.holder.options.maxAttempts;
    this.priority = j.priority;
  }

  get signal(): AbortSignal {
    return this.held.signal();
  }

  progress(value: JobProgress): Promise<void> {
    return this.note(() => this.held.note(this.attempt, checkProgress(value), undefined));
  }

  log(line: string): Promise<void> {
    return this.note(() => this.held.note(this.attempt, undefined, line));
  }

  childrenResults(): Promise<ChildrenResults> {
    return this.held.lease.childrenResults?.() ?? Promise.resolve({});
  }

  /** Bad input rejects, as from an async method; the write itself follows at the end of the turn. */
  private note(record: () => void): Promise<void> {
    try {
      record();
      return Promise.resolve();
    } catch (err) {
      return Promise.reject(err);
    }
  }
}

/**
 * One job a worker holds: its lease, its retry-job actor, and the try the actor asked for. The
 * actor decides; this runs the user's handler for it and tells it how the try ended.
 */
export class HeldJob {
  /** When the current try started (the clock's ms). */
  started = 0;
  /** The running try's number; 0 when none runs. */
  private running = 0;
  private aborted = false;
  private controller: AbortController | undefined;
  /** Progress and logs, as the store last had them plus this worker's calls; written once per turn. */
  private progress: JobProgress | undefined;
  private logs: string[] | undefined;
  private dirty = false;

  constructor(
    readonly holder: JobHolder,
    readonly lease: JobLease,
    readonly actor: RetryJobActorRef,
  ) {
    const notes = lease.job.notes;
    this.progress = notes?.progress;
    this.logs = notes?.logs && [...notes.logs];
  }

  /** Runs try `attempt` of the handler; its outcome goes to the actor as `try.done` / `try.failed`. */
  startTry(attempt: number): void {
    const o = this.holder.options;
    this.running = attempt;
    this.aborted = false;
    this.controller = undefined;
    this.started = o.clock.now();
    let out: unknown;
    try {
      out = o.handler(new JobView(this, attempt));
    } catch (error) {
      return this.failedTry(attempt, error);
    }
    // A handler that answers at once (not a promise) has its try end without a turn of the loop:
    // the actor's mailbox takes the result after what it is doing.
    if (!isThenable(out)) return this.doneTry(attempt, out);
    out.then(
      (output: unknown) => this.doneTry(attempt, output),
      (error: unknown) => this.failedTry(attempt, error),
    );
  }

  private doneTry(attempt: number, output: unknown): void {
    if (this.settle(attempt)) this.actor.send({ type: 'try.done', output });
  }

  private failedTry(attempt: number, error: unknown): void {
    if (this.settle(attempt)) this.actor.send({ type: 'try.failed', error });
  }

  /** Records progress or a log line of try `attempt`; ignored once that try is over. */
  note(attempt: number, progress: JobProgress | undefined, line: string | undefined): void {
    if (this.running !== attempt) return;
    if (line !== undefined) pushLog((this.logs ??= []), line);
    else this.progress = progress;
    if (this.dirty) return;
    this.dirty = true;
    setImmediate(() => this.flush());
  }

  /** Hands the notes to the store and the `progress` listeners: once per turn, and as a try ends. */
  private flush(): void {
    if (!this.dirty) return;
    this.dirty = false;
    const notes = {
      ...(this.progress !== undefined && { progress: this.progress }),
      ...(this.logs && { logs: this.logs.slice() }),
    };
    this.lease.note(notes);
    if (this.actor.getSnapshot().status === 'active')
      this.holder.options.emit('progress', () => this.info('active', this.actor.getSnapshot().context));
  }

  /** `queue.cancel` reached this worker: the job's actor ends `cancelled`. */
  cancel(): void {
    this.actor.send({ type: 'job.cancel' });
  }

  /** @returns whether try `attempt` is still the one the actor waits for */
  private settle(attempt: number): boolean {
    if (this.running !== attempt || this.actor.getSnapshot().status !== 'active') return false;
    this.running = 0;
    this.flush();
    return true;
  }

  /** Aborts the running try's signal: the actor left `active` without its result. */
  abortTry(): void {
    if (this.running === 0) return;
    this.running = 0;
    this.flush();
    this.aborted = true;
    this.controller?.abort();
  }

  signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.aborted) this.controller.abort();
    }
    return this.controller.signal;
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
      ...(state === 'completed'
        ? { result: this.actor.getSnapshot().output }
        : ctx.error && { error: ctx.error }),
      ...notesInfo({ ...(this.progress !== undefined && { progress: this.progress }), logs: this.logs }),
    };
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}
