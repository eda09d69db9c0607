import { assign, createActor, fromCallback, sendTo, type ActorRefFrom, type AnyActorRef } from 'xstate';
import { fromTimer } from '../actors/timer.actor.js';
import { stateName, type ActorInfo } from '../actors/supervisor/types.js';
import {
  retryJobMachine,
  stalledJobSnapshot,
  timedRetryJobMachine,
  type JobOutcome,
  type RetryJobContext,
  type RetryJobInput,
  type RetryJobSnapshot,
} from '../machines/retry-job.machine.js';
import type { JobLease, StoredJob } from './store.js';
import { JobClock } from './job-clock.js';
import { HeldJob } from './running-job.js';
import type { RunnerOptions } from './runner-options.js';

/**
 * Hand-outs of one record beyond its remaining attempts before the job is dead as stalled: a job
 * that kills its worker every time is redelivered after each ack wait, and would loop forever.
 * The margin covers records handed back by workers that were closed (a hand-back is a redelivery).
 */
export const STALL_MARGIN = 5;

/** What a job actor asks of its worker. */
export type WorkerEvent =
  | { type: 'try'; job: AnyActorRef; attempt: number }
  | { type: 'abort'; job: AnyActorRef }
  | { type: 'failed'; job: AnyActorRef };

const RELEASE = { type: 'job.release' } as const;
const PARK = { type: 'job.park' } as const;
const FALLBACK_ERROR = { name: 'Error', message: 'failed' };

/** What the worker actor hears: its job actors' requests, their ends, and a job actor that threw. */
type WorkerInbox =
  | WorkerEvent
  | { type: `xstate.done.actor.${string}`; actorId: string }
  | { type: `xstate.error.actor.${string}`; actorId: string; error: unknown };

const DONE_PREFIX = 'xstate.done.actor.';

/**
 * The worker's own actor, the parent of its job actors: it receives what they ask for and does the
 * I/O. As their parent it hears each one end (its done event: the final state says how) or fail.
 */
const workerLogic = fromCallback<WorkerInbox, { receive: (e: WorkerInbox) => void }>(({ input, receive }) =>
  receive(input.receive),
);
type WorkerRef = ActorRefFrom<typeof workerLogic>;

/**
 * The retry-job machine as a worker hosts it (timed when the queue has a per-try timeout): its
 * effects are events to the worker actor.
 */
function hostedMachine(worker: WorkerRef, options: RunnerOptions) {
  const machine = options.timeoutMs > 0 ? timedRetryJobMachine : retryJobMachine;
  return machine.provide({
    actions: {
      startTry: sendTo(worker, ({ self, context }) => ({ type: 'try', job: self, attempt: context.attempt })),
      abortTry: sendTo(worker, ({ self }) => ({ type: 'abort', job: self })),
      reportFailed: sendTo(worker, ({ self }) => ({ type: 'failed', job: self })),
      planRetry: assign({
        retryDelayMs: ({ context }) =>
          context.backoffMs
            ? (context.backoffMs[Math.min(context.attempt, context.backoffMs.length) - 1] ?? 0)
            : options.backoff.delay(context.attempt),
      }),
    },
    actors: { backoff: fromTimer(options.clock) },
  });
}

/** @returns the persisted job actor in a stored record, when it is one this machine can resume */
function resumable(job: StoredJob): RetryJobSnapshot | undefined {
  const s = job.machine as Partial<RetryJobSnapshot> | undefined;
  if (!s || s.status !== 'active' || s.value !== 'failed') return undefined;
  // The record comes from the broker: a timer without a finite due time would never settle.
  const timer = (s.children as { backoff?: { snapshot?: { dueAt?: unknown } } } | undefined)?.backoff;
  if (!Number.isFinite(timer?.snapshot?.dueAt)) return undefined;
  return s.context?.attempt === job.attemptsMade ? (s as RetryJobSnapshot) : undefined;
}

/**
 * A queue's worker in this process: every job it takes is a retry-job actor (`job:<queue>/<id>`)
 * from pick-up until it settles, created from the job's input or restored from the snapshot in its
 * record. The actors decide (tries, timeout, backoff, death); the worker's own actor runs the
 * handler tries they ask for and stores their outcomes through the job's lease.
 */
export class JobRunner {
  /** The jobs held, by actor id (`job:<queue>/<id>`): one actor per job at a time. */
  readonly active = new Map<string, HeldJob>();
  /** When a job was last taken or settled (the clock's ms): a worker that does neither for long is stalled. */
  lastProgress: number;
  readonly clock: JobClock;
  private readonly worker: WorkerRef;
  private readonly machine: ReturnType<typeof hostedMachine>;
  private idle: (() => void)[] = [];

  constructor(readonly options: RunnerOptions) {
    this.lastProgress = options.clock.now();
    this.clock = new JobClock(options.clock, options.timeoutMs);
    const inspect = options.inspect && { inspect: options.inspect };
    this.worker = createActor(workerLogic, {
      id: `worker:${options.queue}`,
      input: { receive: (e) => this.receive(e) },
      clock: this.clock,
      ...inspect,
    }).start();
    this.machine = hostedMachine(this.worker, options);
  }

  /** Starts (or resumes) the job's actor; called by the store. */
  take(lease: JobLease): void {
    const o = this.options;
    this.lastProgress = o.clock.now();
    o.onProgress?.();
    const j = lease.job;
    const maxAttempts = j.maxAttempts ?? o.maxAttempts;
    const earlier = (j.deliveries ?? 1) - 1;
    const id = this.actorId(j.id);
    if (this.active.has(id)) {
      // A redelivery of a job whose try still runs here: one try at a time; it comes back later.
      o.logger.warn({ jobId: j.id }, 'a job held here came again while its try runs; handed back');
      return lease.release();
    }
    const stalled = j.attemptsMade + earlier >= maxAttempts + STALL_MARGIN;
    const input = this.input(j, maxAttempts);
    // Stalled, a job is restored at `active` before its try starts, and the stall ends it.
    const snapshot = resumable(j) ?? (stalled ? stalledJobSnapshot(this.machine, input) : undefined);
    const actor = this.create(id, input, snapshot);
    this.active.set(id, new HeldJob(this, lease, actor));
    actor.start();
    // A new actor starts its first try as it starts; a resumed one waits out the rest of its
    // backoff, then starts its next try by itself.
    if (stalled) actor.send({ type: 'job.stalled', deliveries: earlier });
  }

  /**
   * The job's actor, resumed from its snapshot; from its record alone if the snapshot will not
   * restore. Its parent is the worker actor, whose actor system (clock, inspector) it shares:
   * a system of its own per job cost a third of the actor's time, and a parent machine would run a
   * macrostep for every job that settles.
   */
  private create(id: string, input: RetryJobInput, snapshot: RetryJobSnapshot | undefined) {
    const options = { id, input, parent: this.worker };
    if (!snapshot) return createActor(this.machine, options);
    try {
      return createActor(this.machine, { ...options, snapshot });
    } catch (err) {
      this.options.logger.warn(
        { err, jobId: input.id },
        'stored job snapshot did not restore; starting from its record',
      );
      return createActor(this.machine, options);
    }
  }

  /** A job actor that threw (a failing backoff, say): its job goes back to the store; nothing is lost. */
  private crashed(held: HeldJob, err: unknown): void {
    this.options.logger.error({ err, jobId: held.lease.job.id }, 'job actor failed; the job goes back');
    this.forget(held);
    held.abortTry();
    held.lease.release();
    this.notifyIdle();
  }

  private input(j: StoredJob, maxAttempts: number): RetryJobInput {
    return {
      id: j.id,
      attemptsMade: j.attemptsMade,
      maxAttempts,
      timeoutMs: this.options.timeoutMs,
      backoffMs: j.backoffMs,
    };
  }

  private receive(e: WorkerInbox): void {
    if ('job' in e) {
      const held = this.active.get(e.job.id);
      if (!held || held.actor !== e.job) return;
      if (e.type === 'try') {
        this.options.observer?.onActive?.(this.options.queue);
        held.startTry(e.attempt);
      } else if (e.type === 'abort') held.abortTry();
      else this.settled(held, 'failed');
      return;
    }
    const held = this.active.get(e.actorId);
    if (!held) return;
    const snapshot = held.actor.getSnapshot();
    if (e.type.startsWith(DONE_PREFIX)) {
      // The actor ended: its final state is how the job leaves this worker.
      if (snapshot.status === 'done') this.settled(held, snapshot.value as JobOutcome);
    } else if (snapshot.status === 'error') this.crashed(held, (e as { error: unknown }).error);
  }

  private settled(held: HeldJob, outcome: JobOutcome): void {
    const snapshot = held.actor.getSnapshot();
    const ctx = snapshot.context;
    const o = this.options;
    if (outcome === 'parked') return;
    this.forget(held);
    if (outcome === 'completed') {
      held.lease.complete(snapshot.output);
      o.observer?.onCompleted?.(o.queue, o.clock.now() - held.started, ctx.attempt);
      o.emit('completed', () => held.info('completed', ctx));
    } else if (outcome === 'failed') this.failed(held, ctx);
    else if (outcome === 'dead') this.dead(held, ctx);
    else if (outcome === 'cancelled') {
      held.lease.cancel(ctx.attempt);
      o.emit('cancelled', () => held.info('cancelled', ctx));
    } else held.lease.release();
    this.notifyIdle();
  }

  private failed(held: HeldJob, ctx: RetryJobContext): void {
    const o = this.options;
    const error = ctx.error ?? FALLBACK_ERROR;
    o.logger.warn({ jobId: held.lease.job.id, attempt: ctx.attempt, error }, 'job failed; will retry');
    // The job backs off in the store, as data: the record keeps this actor's snapshot, which the
    // worker that takes it next resumes (its backoff timer keeps the due time).
    held.lease.retry(ctx.retryDelayMs, error, held.actor.getPersistedSnapshot());
    held.actor.send(PARK);
    o.observer?.onFailed?.(o.queue, o.clock.now() - held.started, ctx.attempt, ctx.reason ?? 'handler');
    o.emit('failed', () => held.info('failed', ctx));
  }

  private dead(held: HeldJob, ctx: RetryJobContext): void {
    const o = this.options;
    const error = ctx.error ?? FALLBACK_ERROR;
    const reason = ctx.reason ?? 'handler';
    o.logger.error({ jobId: held.lease.job.id, attempts: ctx.attempt, error }, 'job is dead');
    held.lease.dead(error, reason, ctx.attempt);
    o.observer?.onDead?.(o.queue, ctx.attempt, reason);
    o.emit('dead', () => held.info('dead', ctx));
  }

  /** The job leaves this process: the store keeps its backoff and later tries. */
  private forget(held: HeldJob): void {
    this.active.delete(held.actor.id);
    this.lastProgress = this.options.clock.now();
    this.options.onProgress?.();
  }

  private notifyIdle(): void {
    if (this.active.size === 0 && this.idle.length > 0) {
      const waiters = this.idle;
      this.idle = [];
      for (const w of waiters) w();
    }
  }

  /** @returns the job `jobId` as this worker holds it, if it does */
  held(jobId: string): HeldJob | undefined {
    return this.active.get(this.actorId(jobId));
  }

  /** A job actor's id: `job:<queue>/<jobId>`. */
  private actorId(jobId: string): string {
    return `job:${this.options.queue}/${jobId}`;
  }

  /** @returns every job actor this worker holds */
  actors(): ActorInfo[] {
    const out: ActorInfo[] = [];
    for (const { actor } of this.active.values())
      out.push({
        id: actor.id,
        kind: 'job',
        machine: 'retryJob',
        state: stateName(actor.getSnapshot().value),
      });
    return out;
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

  /** Hands every held job back untried and aborts its handler. */
  releaseAll(): void {
    for (const { actor } of [...this.active.values()]) actor.send(RELEASE);
  }

  /** Stops the worker's actor and the shared timeout timer; call once idle. */
  stop(): void {
    this.worker.stop();
    this.clock.stop();
  }
}
