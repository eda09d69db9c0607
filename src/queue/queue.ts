import { ClosedError, TransportError, ValidationError } from '../errors.js';
import type { Logger } from '../logging.js';
import type { Transport } from '../transport/transport.js';
import { hasQueues, type JobSink, type NewJob, type QueueStore, type QueueWorker } from './store.js';
import { Flows } from './flows.js';
import type { AddedFlow, FlowJob } from './flow-types.js';
import { newJob, resolveQueueOptions, type QueueOptions, type ResolvedQueueOptions } from './options.js';
import { JobRunner } from './runner.js';
import type { JobHandler } from './runner-options.js';
import type {
  AddedJob,
  BulkJob,
  CleanOptions,
  JobCounts,
  JobInfo,
  JobOptions,
  QueueEvents,
} from './types.js';
import { PauseState, queueBucket } from './pause.js';
import { LimiterGate } from './limiter-gate.js';
import { cancelHeld, cancelJob, checkClean, removeJob } from './queue-admin.js';
import type { Env } from '../env.js';
import type { ActorInfo } from '../actors/supervisor/types.js';
import { JobScheduler, type SchedulerActorInfo } from './scheduler.js';
import {
  defineScheduler,
  schedulersBucket,
  type RepeatJobOptions,
  type RepeatSchedule,
  type SchedulerInfo,
} from './schedule.js';

/** What a removed flow child leaves its parent. */

/** What a queue borrows from its runtime. */
export interface QueueHost extends Env {
  readonly transport: Transport;
  /** The runtime's queue object named `name`, opened when it has none: flows add jobs to other queues. */
  readonly queueNamed?: (name: string) => Queue;
}

type Listeners = { [K in keyof QueueEvents]: Set<QueueEvents[K]> };

/**
 * A queue object's life: `opening` its store, then `idle` (open, not processing) or `starting` and
 * `working` once `process` was called (`stalled` while its active jobs run on and none settles
 * for `stalledAfterMs`); `failed` when the store or the worker could not be opened
 * (the runtime's supervisor opens it again with backoff); `closing`, `closed`.
 */
export type QueueStatus =
  'opening' | 'idle' | 'starting' | 'working' | 'stalled' | 'failed' | 'closing' | 'closed';

/**
 * A named job queue on the runtime's transport. Any number of queue objects (in any number of
 * processes) share the jobs of one name; each may `process` them as a competing worker.
 * Made by `rt.queue(name, options)`.
 * @example
 * const emails = rt.queue('emails', { concurrency: 10, maxAttempts: 5 });
 * emails.process(async (job) => mailer.send(job.data));
 * await emails.add('welcome', { to: 'ada@example.com' }, { priority: 'high' });
 */
export class Queue<D = unknown> {
  readonly options: ResolvedQueueOptions;
  private backend: Promise<QueueStore>;
  private opened = false;
  private workerReady = false;
  private closed = false;
  private signalClosed!: () => void;
  private readonly closedSignal = new Promise<void>((resolve) => (this.signalClosed = resolve));
  private failure: Error | undefined;
  private readonly logger: Logger;
  private readonly listeners: Listeners = {
    completed: new Set(),
    failed: new Set(),
    dead: new Set(),
    progress: new Set(),
    cancelled: new Set(),
  };
  /** The queue's shared pause state, and what this queue object's worker last heard of it. */
  private readonly pauseState: PauseState;
  private paused = false;
  private runner: JobRunner | undefined;
  private worker: QueueWorker | undefined;
  private closing: Promise<void> | undefined;
  private readonly statusListeners = new Set<(status: QueueStatus) => void>();
  private lastStatus: QueueStatus = 'opening';
  private watchdog: unknown;
  private scheduler: JobScheduler | undefined;
  private flowsOf: Flows | undefined;
  private limiterGate: LimiterGate | undefined;

  /** @throws {ValidationError} when an option is out of range */
  constructor(
    readonly name: string,
    options: QueueOptions,
    private readonly host: QueueHost,
  ) {
    this.options = resolveQueueOptions(options);
    this.logger = host.logger.child({ actor: 'queue', id: name });
    this.pauseState = new PauseState(host.transport, name, this.logger);
    this.backend = this.open();
  }

  private open(): Promise<QueueStore> {
    const opening = (async () => {
      const t = this.host.transport;
      if (!hasQueues(t)) throw new TransportError(`the ${t.kind} transport has no job queues`);
      const { ackWaitMs, dedupWindowMs, keepFinished } = this.options;
      return t.queueStore(this.name, { ackWaitMs, dedupWindowMs, keepFinished });
    })();
    opening.then(
      () => {
        if (this.backend === opening) this.opened = true;
        this.statusChanged();
      },
      (err: unknown) => {
        if (this.backend !== opening) return;
        this.failure = err instanceof Error ? err : new Error(String(err));
        this.logger.error({ err }, 'queue store did not open');
        this.statusChanged();
      },
    );
    return opening;
  }

  /** Where the queue object is in its life; see {@link QueueStatus}. A change seen here is reported at once. */
  status(): QueueStatus {
    const now = this.currentStatus();
    if (now !== this.lastStatus) this.announce(now);
    return now;
  }

  private currentStatus(): QueueStatus {
    if (this.closed) return 'closed';
    if (this.closing) return 'closing';
    if (this.failure) return 'failed';
    if (!this.opened) return 'opening';
    if (!this.runner) return 'idle';
    if (!this.workerReady) return 'starting';
    return this.runner.stalled(this.options.stalledAfterMs) ? 'stalled' : 'working';
  }

  /**
   * Listens to changes of {@link status}: each change once, `stalled` as soon as it is true (the
   * queue's own watchdog wakes when its jobs would count as stalled).
   * @returns a function that removes the listener
   */
  onStatusChange(listener: (status: QueueStatus) => void): () => void {
    this.statusListeners.add(listener);
    return () => void this.statusListeners.delete(listener);
  }

  private statusChanged(): void {
    const now = this.currentStatus();
    if (now !== this.lastStatus) this.announce(now);
  }

  private announce(status: QueueStatus): void {
    this.lastStatus = status;
    for (const l of [...this.statusListeners]) l(status);
  }

  /** The queue's own watchdog: wakes when its jobs would count as stalled, not on every job. */
  private watch(): void {
    const clock = this.host.clock;
    const after = this.options.stalledAfterMs;
    const tick = (): void => {
      this.statusChanged();
      if (this.closing) return;
      // Already stalled: progress itself announces the recovery (see `process`).
      const due = (this.runner?.lastProgress ?? clock.now()) + after - clock.now();
      this.watchdog = clock.setTimeout(tick, due > 0 ? due : after);
    };
    this.watchdog = clock.setTimeout(tick, after);
  }

  /** @returns the job actors this queue object's worker holds now (`job:<queue>/<id>`) */
  jobActors(): ActorInfo[] {
    return this.runner?.actors() ?? [];
  }

  /** Why the queue is `failed`, while it is. */
  failedWith(): Error | undefined {
    return this.failure;
  }

  /**
   * @internal the supervisor's restart of a `failed` queue: opens the store again when it did not
   * open, and starts the worker again when it did not start. Jobs in progress are not touched.
   */
  reopen(): void {
    if (this.closing || !this.failure) return;
    this.failure = undefined;
    if (!this.opened) this.backend = this.open();
    if (this.runner && !this.workerReady) this.worker = this.startWorker(this.runner);
    this.statusChanged();
  }

  /** Resolves once the queue's store is provisioned (and, after `process`, once jobs flow). */
  async ready(): Promise<void> {
    await this.backend;
    await this.worker?.ready;
  }

  /**
   * Adds a job; resolves once it is stored (on JetStream: acknowledged by the server).
   * @throws {ValidationError} for out-of-range options
   * @throws {ClosedError} after `close()`
   * @example
   * const { id } = await emails.add('welcome', { to: 'ada@example.com' }, { delayMs: 60_000 });
   */
  async add(name: string, data: D, opts?: JobOptions): Promise<AddedJob> {
    const [added] = await this.addBulk([{ name, data, ...(opts && { opts }) }]);
    return added!;
  }

  /**
   * Adds many jobs pipelined; resolves in order once all are stored.
   * @throws {ValidationError} naming the first invalid item; nothing is added
   * @throws {ClosedError} after `close()`
   */
  async addBulk(items: readonly BulkJob<D>[]): Promise<AddedJob[]> {
    if (this.closing) throw new ClosedError(`queue "${this.name}" is closed`);
    const jobs = items.map((i) => newJob(i.name, i.data, i.opts));
    const added = await (await this.backend).add(jobs);
    this.options.observer?.onAdded?.(this.name, jobs.length);
    return added;
  }

  /**
   * Adds a flow: its children (jobs in any queues of this runtime's transport) now, and its parent
   * (a job of this queue) once every child completed; the parent's handler reads their results with
   * `job.childrenResults()`. Until then `getJob(id)` shows the parent `waiting-children`. A child
   * that dies (or is cancelled while held) fails the parent (`dead`, with the reason) unless
   * `opts.ignoreChildFailure`. With a parent `jobId` a retry after a crash stores nothing twice
   * (children default to the ids `<parentId>:<index>`). Data must survive JSON.
   * @throws {ValidationError} for a flow without children, a bad option, or data that is not JSON
   * @throws {ClosedError} after `close()`
   * @example
   * const { id } = await invoices.addFlow({ name: 'invoice', data: { order: 7 }, children: [
   *   { queue: 'pdf', name: 'render', data: { order: 7 } },
   *   { queue: 'emails', name: 'notify', data: { order: 7 } },
   * ] });
   * invoices.process(async (job) => Object.keys(await job.childrenResults()).length);
   */
  async addFlow(flow: FlowJob<D>): Promise<AddedFlow> {
    if (this.closing) throw new ClosedError(`queue "${this.name}" is closed`);
    return this.flows().add(flow);
  }

  /** @internal stores jobs as they are: a flow's children and its released parent */
  async addStored(jobs: readonly NewJob[]): Promise<AddedJob[]> {
    const added = await (await this.backend).add(jobs);
    this.options.observer?.onAdded?.(this.name, jobs.length);
    return added;
  }

  private flows(): Flows {
    return (this.flowsOf ??= new Flows({
      queue: this.name,
      transport: this.host.transport,
      logger: this.logger,
      add: async (queue, jobs) => {
        const target = queue === this.name ? this : this.host.queueNamed?.(queue);
        if (target) return target.addStored(jobs);
        throw new ValidationError(`queue "${queue}" is not reachable from queue "${this.name}"`);
      },
      onDead: (info) => {
        for (const l of [...this.listeners.dead]) this.call(l, info);
      },
    }));
  }

  /**
   * Starts taking jobs with `handler`, up to `concurrency` at once. A handler that throws (or
   * runs past `timeoutMs`) fails its try; the job is retried after its backoff, and is dead once
   * its attempts are spent.
   * @throws {Error} when this queue object already processes
   * @throws {ClosedError} after `close()`
   */
  process(handler: JobHandler<D>): void {
    if (this.closing) throw new ClosedError(`queue "${this.name}" is closed`);
    if (this.runner) throw new Error(`queue "${this.name}" is already processing`);
    const o = this.options;
    const runner = new JobRunner({
      queue: this.name,
      handler: handler as JobHandler,
      maxAttempts: o.maxAttempts,
      backoff: o.backoff,
      timeoutMs: o.timeoutMs,
      clock: this.host.clock,
      logger: this.logger,
      inspect: this.host.inspect,
      observer: o.observer,
      onProgress: () => {
        if (this.lastStatus === 'stalled') this.statusChanged();
      },
      emit: (state, info) => {
        const set = this.listeners[state];
        if (set.size > 0) for (const l of [...set]) this.call(l, info());
      },
    });
    this.runner = runner;
    this.worker = this.startWorker(runner);
    this.watch();
    this.jobScheduler().start();
    this.statusChanged();
  }

  private startWorker(runner: JobRunner): QueueWorker {
    const sink = this.limited({
      take: (lease) => this.flows().take(lease, (held) => runner.take(held)),
      cancel: (id: string) => cancelHeld(runner, id),
    });
    // The pause state first: a worker of a paused queue must not take a job as it starts.
    const started = this.backend.then(async (b) => {
      await this.followPause();
      return b.work({ concurrency: this.options.concurrency, paused: this.paused }, sink);
    });
    const worker: QueueWorker = {
      ready: started.then((w) => w.ready),
      stop: () => started.then((w) => w.stop()),
      pause: (paused) => void started.then((w) => w.pause(paused)),
    };
    worker.ready.then(
      () => {
        if (this.worker === worker) this.workerReady = true;
        this.statusChanged();
      },
      (err: unknown) => {
        if (this.worker !== worker || this.closing) return;
        this.failure ??= err instanceof Error ? err : new Error(String(err));
        this.logger.error({ err }, 'queue worker did not start');
        this.statusChanged();
      },
    );
    return worker;
  }

  /** The queue's rate limit between its store and its runner, when it has one. */
  private limited(sink: JobSink): JobSink {
    const limiter = this.options.limiter;
    if (!limiter) return sink;
    const { transport, clock } = this.host;
    this.limiterGate ??= new LimiterGate(
      this.name,
      limiter,
      () => transport.keyValue(queueBucket(transport), { create: true }),
      clock,
      this.logger,
    );
    return this.limiterGate.wrap(sink);
  }

  private call(listener: (job: JobInfo) => void, info: JobInfo): void {
    try {
      listener(info);
    } catch (err) {
      this.logger.warn({ err }, 'queue listener threw');
    }
  }

  /** @returns the job, or undefined when it is not known (never added, or no longer retained) */
  async getJob(id: string): Promise<JobInfo<D> | undefined> {
    const job = (await (await this.backend).getJob(id)) ?? (await this.flows().waiting(id));
    return job as JobInfo<D> | undefined;
  }

  /**
   * @returns how many jobs are in each state, across every worker; finished ones as far as they are
   * kept (`keepFinished`). On JetStream `active` counts the jobs handed to workers, which includes
   * those a worker has fetched ahead of its handlers (up to about twice its concurrency).
   */
  async counts(): Promise<JobCounts> {
    const [counts, paused] = await Promise.all([(await this.backend).counts(), this.pauseState.get()]);
    return { ...counts, paused };
  }

  // Pause, remove, cancel, clean.

  /**
   * Pauses the queue for every worker in every process (shared through the transport's key-value
   * store): active jobs finish, no worker takes another until {@link resume}. Jobs can still be
   * added. Idempotent.
   */
  async pause(): Promise<void> {
    await this.pauseState.set(true);
  }

  /** Lets every worker of the queue take jobs again. Idempotent. */
  async resume(): Promise<void> {
    await this.pauseState.set(false);
  }

  /** @returns whether this queue object's worker holds off because the queue is paused, as it last heard */
  isPaused(): boolean {
    return this.paused;
  }

  /**
   * Removes a job that no worker holds (waiting, delayed, backing off, or finished), its progress
   * and logs included. An active job is not removed: {@link cancel} it. Idempotent.
   * @returns true when it was removed; false when it is active or not known
   */
  async remove(id: string): Promise<boolean> {
    return removeJob(await this.backend, this.flows(), id);
  }

  /**
   * Cancels a live job: one no worker holds ends `cancelled` at once; an active one has its
   * `job.signal` aborted wherever it runs, and ends `cancelled` (never retried, no dead letter).
   * @returns true when the job was live; false when it is not known or already finished
   */
  async cancel(id: string): Promise<boolean> {
    return cancelJob(await this.backend, this.flows(), id);
  }

  /**
   * Removes the records of jobs that finished in `state` at least `olderThanMs` ago, oldest first.
   * Idempotent and bounded (`limit` per call).
   * @returns how many it removed
   * @throws {ValidationError} for an unknown state or a negative age
   * @example
   * await emails.clean({ state: 'completed', olderThanMs: 86_400_000 });
   */
  async clean(options: CleanOptions): Promise<number> {
    checkClean(options);
    return (await this.backend).clean(options);
  }

  /** Follows the shared pause state for this queue object's worker. */
  private async followPause(): Promise<void> {
    await this.pauseState.follow((paused) => {
      this.paused = paused;
      this.worker?.pause(paused);
      this.logger.info({ paused }, paused ? 'queue paused' : 'queue resumed');
    });
  }

  /**
   * Listens to jobs settled by this queue object's worker.
   * @returns a function that removes the listener
   */
  on<K extends keyof QueueEvents<D>>(event: K, listener: QueueEvents<D>[K]): () => void {
    const set = this.listeners[event] as unknown as Set<QueueEvents<D>[K]>;
    set.add(listener);
    return () => void set.delete(listener);
  }

  // Job schedulers (repeatable jobs).

  /**
   * Adds a job named `name` with `data` at every slot of `schedule`, once per slot across every
   * worker and process: the slot is the job's id (`repeat:<name>:<slotMs>`). Every queue object
   * that processes jobs runs the schedulers; slots missed while none did are owed one catch-up job
   * (the latest), not one each. Calling it again with the same name replaces the definition (no
   * write when unchanged). `data` must survive JSON: the definition is stored on the transport.
   * @returns the scheduler as {@link schedulers} lists it
   * @throws {ValidationError} for a bad name, cron pattern, time zone, `everyMs` or job option
   * @throws {MissingStreamError} on a NATS transport that does not provision, before the
   *   `<prefix>_schedulers` bucket exists
   * @throws {ClosedError} after `close()`
   * @example
   * await emails.repeat('digest', { list: 'weekly' }, { cron: '0 3 * * MON', tz: 'Europe/Berlin' });
   * await emails.repeat('ping', null, { everyMs: 60_000 }, { priority: 'low' });
   */
  async repeat(
    name: string,
    data: D,
    schedule: RepeatSchedule,
    opts?: RepeatJobOptions,
  ): Promise<SchedulerInfo> {
    if (this.closing) throw new ClosedError(`queue "${this.name}" is closed`);
    return this.jobScheduler().define(defineScheduler(name, data, schedule, opts));
  }

  /**
   * Removes the scheduler `name` for every process; jobs it already added stay. Idempotent.
   * @returns whether it existed
   * @throws {ClosedError} after `close()`
   */
  async unrepeat(name: string): Promise<boolean> {
    if (this.closing) throw new ClosedError(`queue "${this.name}" is closed`);
    return this.jobScheduler().remove(name);
  }

  /** @returns the queue's schedulers, defined by any process, ordered by name, with their next and last slots */
  async schedulers(): Promise<SchedulerInfo[]> {
    return this.jobScheduler().list();
  }

  /** @returns this queue object's scheduler actors (`scheduler:<queue>/<name>`), while it processes */
  schedulerActors(): SchedulerActorInfo[] {
    return this.scheduler?.actors() ?? [];
  }

  private jobScheduler(): JobScheduler {
    const { transport, clock, inspect } = this.host;
    return (this.scheduler ??= new JobScheduler({
      queue: this.name,
      clock,
      inspect,
      logger: this.logger.child({ actor: 'scheduler' }),
      keyValue: () => transport.keyValue(schedulersBucket(transport.namespace)),
      add: async (job) => {
        const [added] = await (await this.backend).add([job]);
        this.options.observer?.onAdded?.(this.name, 1);
        return added!;
      },
    }));
  }

  /**
   * Stops taking jobs, waits up to `closeTimeoutMs` for active ones, then aborts the rest and
   * hands them back untried: no job is lost. Idempotent: every call returns the same promise.
   */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closing = this.shutdown();
    if (this.watchdog !== undefined) this.host.clock.clearTimeout(this.watchdog);
    this.statusChanged();
    return this.closing;
  }

  /** @internal resolves once the queue has closed (the supervisor then forgets it) */
  whenClosed(): Promise<void> {
    return this.closedSignal;
  }

  private async shutdown(): Promise<void> {
    // Stops adding at once; its adds in flight finish before the store closes.
    const scheduling = this.scheduler?.stop();
    const runner = this.runner;
    this.pauseState.stop();
    await this.worker?.stop().catch((err: unknown) => this.logger.warn({ err }, 'worker stop failed'));
    this.limiterGate?.stop();
    if (runner) {
      const idle = runner.whenIdle();
      if (!(await within(idle, this.options.closeTimeoutMs))) {
        this.logger.warn({ active: runner.active.size }, 'jobs still active at close; handing them back');
        runner.releaseAll();
        await idle;
      }
      runner.stop();
    }
    await scheduling;
    const backend = await this.backend.catch(() => undefined);
    await backend?.close();
    this.closed = true;
    this.statusChanged();
    this.signalClosed();
  }
}

/** @returns true when `p` settled within `ms` */
async function within(p: Promise<void>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  const result = await Promise.race([p.then(() => true), timeout]);
  clearTimeout(timer);
  return result;
}
