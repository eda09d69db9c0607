import { createActor, fromPromise } from 'xstate';
import { MissingStreamError } from '../errors.js';
import type { ActorInfo } from '../actors/supervisor/types.js';
import { stateName } from '../actors/supervisor/types.js';
import type { Env } from '../env.js';
import {
  jobSchedulerMachine,
  type FireInput,
  type FireOutcome,
  type JobSchedulerActorRef,
  type PlanInput,
  type PlanOutput,
} from '../machines/job-scheduler.machine.js';
import type { KeyValueStore, KvEntry, KvWatch } from '../transport/key-value.js';
import {
  decodeRecord,
  definitionOf,
  dueSlot,
  isSlotOf,
  queueKeyPrefix,
  schedulerInfo,
  schedulerKey,
  slotJob,
  type SchedulerDefinition,
  type SchedulerInfo,
  type SchedulerRecord,
} from './schedule.js';
import {
  deleteDefinition,
  listSchedulers,
  readSchedulers,
  recordLast,
  writeDefinition,
} from './scheduler-store.js';
import type { NewJob } from './store.js';
import type { AddedJob } from './types.js';

/** What a queue's job scheduler borrows from its queue. */
export interface SchedulerHost extends Env {
  readonly queue: string;
  /** The schedulers bucket (created when missing, as the transport provisions). */
  keyValue(): Promise<KeyValueStore>;
  /** Adds a slot's job to the queue's store. */
  add(job: NewJob): Promise<AddedJob>;
}

/** A scheduler actor's view, for tests and the dashboard: its state and the slot it waits for. */
export interface SchedulerActorInfo extends ActorInfo {
  readonly due: number | undefined;
}

/** First wait after a failed plan, fire or watch; doubles up to `MAX_RETRY_MS`. */
const RETRY_MS = 500;
const MAX_RETRY_MS = 30_000;
/** A slot further ahead is waited for in hops of a day. */
const MAX_WAIT_MS = 86_400_000;

interface Running {
  readonly actor: JobSchedulerActorRef;
  definition: string;
}

/**
 * A queue's job schedulers: the definitions in the transport's key-value bucket, shared by every
 * process, and in a process that works the queue, one {@link jobSchedulerMachine} actor per
 * definition that adds each slot's job. A slot's job has the slot's id, and the definition records
 * the last slot added (compare-and-set), so a slot is one job however many processes fire it,
 * also after the store's dedup window. Definitions written or removed elsewhere arrive by a watch.
 */
export class JobScheduler {
  private readonly running = new Map<string, Running>();
  private readonly inFlight = new Set<Promise<unknown>>();
  private kv: Promise<KeyValueStore> | undefined;
  private watch: KvWatch | undefined;
  private started = false;
  private stopped = false;
  private rewatch: unknown;
  private watchFailures = 0;
  private readonly logic = jobSchedulerMachine.provide({
    actors: {
      plan: fromPromise<PlanOutput, PlanInput>(({ input }) => this.track(this.plan(input.key))),
      fire: fromPromise<FireOutcome, FireInput>(({ input }) =>
        this.track(this.logged(input, this.fire(input))),
      ),
    },
  });

  constructor(private readonly host: SchedulerHost) {}

  /** The bucket, opened once; a failed open is tried again on next use. */
  private bucket(): Promise<KeyValueStore> {
    if (this.kv) return this.kv;
    const opening = this.host.keyValue();
    this.kv = opening;
    opening.catch(() => {
      if (this.kv === opening) this.kv = undefined;
    });
    return opening;
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.inFlight.add(p);
    const done = (): void => void this.inFlight.delete(p);
    p.then(done, done);
    return p;
  }

  /** Starts adding jobs for every definition of the queue, and follows changes. Idempotent. */
  start(): void {
    if (this.started || this.stopped) return;
    this.started = true;
    void this.track(this.follow());
  }

  /**
   * Watches the queue's definitions, then loads them all: a change in between is not missed. Only
   * a delete removes an actor; one left over from a gap in the watch finds its definition gone
   * when it plans, and waits idle.
   */
  private async follow(): Promise<void> {
    try {
      const kv = await this.bucket();
      if (this.stopped) return;
      const watch = kv.watch(`${queueKeyPrefix(this.host.queue)}*`, (e) => this.changed(e));
      this.watch = watch;
      await watch.ready;
      const records = await readSchedulers(kv, this.host.queue);
      if (this.stopped || this.watch !== watch) return;
      for (const [key, record] of records) this.ensure(key, record);
      this.watchFailures = 0;
      void watch.ended.then(() => {
        if (this.watch === watch) this.retryFollow(new Error('the schedulers watch ended'));
      });
    } catch (err) {
      this.retryFollow(err);
    }
  }

  private retryFollow(err: unknown): void {
    if (this.stopped) return;
    this.watch?.stop();
    this.watch = undefined;
    // A broker that is not provisioned by its services has no bucket until someone defines a
    // schedule: no failure, only a look again later.
    const missing = err instanceof MissingStreamError;
    const ms = missing ? MAX_RETRY_MS : Math.min(MAX_RETRY_MS, RETRY_MS * 2 ** this.watchFailures++);
    if (missing) this.host.logger.debug({ retryInMs: ms }, 'no job schedulers bucket yet');
    else this.host.logger.warn({ err, retryInMs: ms }, 'job schedulers not followed; trying again');
    this.rewatch = this.host.clock.setTimeout(() => void this.track(this.follow()), ms);
  }

  private changed(entry: KvEntry): void {
    if (this.stopped) return;
    const record = entry.operation === 'PUT' ? decodeRecord(entry.value) : undefined;
    if (record) this.ensure(entry.key, record);
    else this.drop(entry.key);
  }

  /** Runs an actor for the definition, and has it plan again when the definition changed (or it idles). */
  private ensure(key: string, record: SchedulerRecord): void {
    const definition = JSON.stringify(definitionOf(record));
    const running = this.running.get(key);
    if (running) {
      const idle = running.actor.getSnapshot().matches('idle');
      if (running.definition === definition && !idle) return;
      running.definition = definition;
      running.actor.send({ type: 'schedule.changed' });
      return;
    }
    const { clock, inspect } = this.host;
    const actor = createActor(this.logic, {
      id: `scheduler:${this.host.queue}/${record.name}`,
      input: { key, retryMs: RETRY_MS, maxRetryMs: MAX_RETRY_MS, maxWaitMs: MAX_WAIT_MS },
      clock,
      ...(inspect && { inspect }),
    });
    this.running.set(key, { actor, definition });
    actor.start();
  }

  private drop(key: string): void {
    this.running.get(key)?.actor.stop();
    this.running.delete(key);
  }

  private async read(key: string): Promise<KvEntry | null> {
    return (await this.bucket()).get(key);
  }

  private async plan(key: string): Promise<PlanOutput> {
    const entry = await this.read(key);
    const record = entry && decodeRecord(entry.value);
    const now = this.host.clock.now();
    return { due: record ? dueSlot(record, now) : undefined, now };
  }

  private async fire({ key, slot }: FireInput): Promise<FireOutcome> {
    const entry = await this.read(key);
    const record = entry && decodeRecord(entry.value);
    if (!entry || !record) return 'gone';
    if (record.last !== undefined && record.last >= slot) return 'taken';
    if (!isSlotOf(record, slot)) return 'stale';
    const added = await this.host.add(slotJob(record, slot));
    await recordLast(await this.bucket(), key, slot, entry);
    return added.duplicate ? 'duplicate' : 'added';
  }

  private logged(input: FireInput, firing: Promise<FireOutcome>): Promise<FireOutcome> {
    const at = { scheduler: input.key, slot: input.slot };
    return firing.then(
      (outcome) => {
        this.host.logger.debug({ ...at, outcome }, 'slot fired');
        return outcome;
      },
      (err: unknown) => {
        this.host.logger.warn({ ...at, err }, 'slot not fired; planning again after a pause');
        throw err;
      },
    );
  }

  /**
   * Writes a definition (see {@link writeDefinition}); a running scheduler follows it at once.
   * @returns the scheduler as listed
   */
  async define(def: SchedulerDefinition): Promise<SchedulerInfo> {
    const key = schedulerKey(this.host.queue, def.name);
    const clock = this.host.clock;
    const { record } = await writeDefinition(await this.bucket(), key, def, () => clock.now());
    if (this.started && !this.stopped) this.ensure(key, record);
    return schedulerInfo(record, clock.now());
  }

  /** Removes a definition everywhere. @returns whether it existed */
  async remove(name: string): Promise<boolean> {
    const key = schedulerKey(this.host.queue, name);
    const existed = await deleteDefinition(await this.bucket(), key);
    this.drop(key);
    return existed;
  }

  /** @returns every scheduler of the queue, ordered by name */
  async list(): Promise<SchedulerInfo[]> {
    return listSchedulers(await this.bucket(), this.host.queue, this.host.clock.now());
  }

  /** @returns this process's scheduler actors: one per definition while the queue is worked */
  actors(): SchedulerActorInfo[] {
    return [...this.running.values()].map(({ actor }) => {
      const s = actor.getSnapshot();
      return {
        id: actor.id,
        kind: 'scheduler',
        machine: 'job-scheduler',
        state: stateName(s.value),
        due: s.context.due,
      };
    });
  }

  /** Stops every actor, the watch and its retry, and waits for reads and adds in flight. Idempotent. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.rewatch !== undefined) this.host.clock.clearTimeout(this.rewatch);
    this.watch?.stop();
    this.watch = undefined;
    for (const key of [...this.running.keys()]) this.drop(key);
    await Promise.allSettled([...this.inFlight]);
  }
}
