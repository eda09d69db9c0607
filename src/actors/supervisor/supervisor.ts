import { createActor } from 'xstate';
import type { Env } from '../../env.js';
import { ValidationError } from '../../errors.js';
import { exponential } from '../../retry/backoff.js';
import {
  supervisorMachine,
  type ChildFailure,
  type SupervisorActorRef,
  type SupervisorInput,
} from '../../machines/supervisor.machine.js';
import { ActorGroups, type ActorGroup } from '../groups/actor-group.js';
import type { ActorReport, ChildStatus, RestartPolicy, SupervisedChild, SupervisorNotice } from './types.js';

/** What a supervisor runs in; `inspect` reaches every root actor it creates (policy actors, actor groups). */
export interface SupervisorEnvironment extends Env {
  /** How often watched children (subscribers) are checked for failure. @default 1_000 */
  readonly sweepMs?: number;
}

const DEFAULT_BACKOFF = exponential({ initialMs: 100, maxMs: 10_000, jitter: 'equal' });

/** A child's supervision record: its policy, counters and, once it first failed, its policy actor. */
export class Supervision {
  status: ChildStatus = 'running';
  restarts = 0;
  lastError: ChildFailure | undefined = undefined;
  policyActor: SupervisorActorRef | undefined = undefined;

  constructor(
    readonly supervisor: Supervisor,
    readonly child: SupervisedChild,
    readonly policy: RestartPolicy | false,
    /** For watched children: reports a failure the child cannot announce itself. */
    readonly probe: (() => ChildFailure | undefined) | undefined,
  ) {}

  /** The child failed: its policy decides whether and when it restarts. */
  failed(error: ChildFailure): void {
    this.supervisor.childFailed(this, error);
  }

  /** The child finished on its own (a final state): nothing more to supervise. */
  done(): void {
    this.status = 'done';
    this.supervisor.forget(this);
  }
}

/**
 * The runtime's supervisor: tracks every supervised child in a map and restarts failed ones
 * one-for-one through the supervisor machine. Hosted machines are members of small actor groups
 * ({@link ActorGroup}), never XState children listed under one parent, so spawning and stopping
 * cost the same at 10 or 100,000 children.
 * @example
 * const supervisor = new Supervisor({ clock: systemClock, logger });
 * const cache = spawnSupervised(supervisor, cacheMachine, { id: 'cache', restart: { maxRestarts: 3 } });
 */
export class Supervisor {
  private readonly children = new Map<string, Supervision>();
  private readonly watched = new Set<Supervision>();
  private readonly listeners = new Set<(notice: SupervisorNotice) => void>();
  private sweepTimer: unknown;
  private stopping = false;
  private readonly groups: ActorGroups;

  constructor(readonly env: SupervisorEnvironment) {
    this.groups = new ActorGroups(env, (group, notice) =>
      this.children.get(notice.id)?.child.memberNotice?.(group, notice),
    );
  }

  /**
   * Puts a child under supervision.
   * @param probe - for children that cannot report their own failure: polled every `sweepMs`
   * @throws {ValidationError} when a child with the same id is already supervised
   */
  add(
    child: SupervisedChild,
    policy: RestartPolicy | false = {},
    probe?: () => ChildFailure | undefined,
  ): Supervision {
    if (this.children.has(child.id)) throw new ValidationError(`an actor with id "${child.id}" already runs`);
    const entry = new Supervision(this, child, policy, probe);
    this.children.set(child.id, entry);
    if (probe) this.watch(entry);
    return entry;
  }

  /** @internal the actor group a hosted actor joins as it is spawned: the newest, or a new one once it is full */
  joinGroup(): ActorGroup {
    return this.groups.join();
  }

  /** @returns `base`, or `base#2`, `base#3`, … : the first id no supervised child has */
  freeId(base: string): string {
    let id = base;
    for (let n = 2; this.children.has(id); n++) id = `${base}#${n}`;
    return id;
  }

  /** @returns whether a child with this id is supervised */
  has(id: string): boolean {
    return this.children.has(id);
  }

  /** Number of supervised children. */
  get size(): number {
    return this.children.size;
  }

  /** Stops a child on purpose and forgets it. Idempotent. */
  async stop(id: string): Promise<void> {
    const entry = this.children.get(id);
    if (!entry) return;
    entry.status = 'stopped';
    this.forget(entry);
    await entry.child.halt();
  }

  /** Stops `child` if it is still the one supervised under its id, else just halts it. */
  stopChild(child: SupervisedChild): Promise<void> {
    return this.children.get(child.id)?.child === child ? this.stop(child.id) : child.halt();
  }

  /** Stops every child (the runtime's shutdown). */
  async stopAll(): Promise<void> {
    this.stopping = true;
    await Promise.all([...this.children.keys()].map((id) => this.stop(id)));
    this.groups.stop();
  }

  /** Restarts a child the supervisor gave up on, with its failures forgotten. @returns false if not failed */
  reset(id: string): boolean {
    const entry = this.children.get(id);
    if (entry?.status !== 'failed' || !entry.policyActor) return false;
    entry.policyActor.send({ type: 'reset' });
    return true;
  }

  /** @returns every supervised child's status and restart count, by id */
  report(): Record<string, ActorReport> {
    this.sweep();
    const out: Record<string, ActorReport> = {};
    for (const [id, e] of this.children) {
      const state = e.child.state?.();
      out[id] = {
        kind: e.child.kind,
        status: e.status,
        restarts: e.restarts,
        ...(state !== undefined && { state }),
        ...(e.lastError && { lastError: e.lastError }),
      };
    }
    return out;
  }

  /** Listens to restarts and give-ups. @returns a function that removes the listener */
  onNotice(listener: (notice: SupervisorNotice) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** @internal called through {@link Supervision.failed} */
  childFailed(entry: Supervision, error: ChildFailure): void {
    if (entry.status !== 'running' || this.stopping) return;
    entry.lastError = error;
    this.env.logger.warn(
      { actor: entry.child.kind, id: entry.child.id, err: error },
      'supervised actor failed',
    );
    if (entry.policy === false) return this.gaveUp(entry, error);
    entry.status = 'restarting';
    (entry.policyActor ??= this.startPolicy(entry, entry.policy)).send({
      type: 'child.failed',
      at: this.env.clock.now(),
      error,
    });
  }

  /** @internal removes a child from the map and ends its policy actor */
  forget(entry: Supervision): void {
    if (this.children.get(entry.child.id) === entry) this.children.delete(entry.child.id);
    this.watched.delete(entry);
    entry.policyActor?.stop();
    entry.policyActor = undefined;
  }

  private startPolicy(entry: Supervision, policy: RestartPolicy): SupervisorActorRef {
    const input: SupervisorInput = {
      childId: entry.child.id,
      maxRestarts: policy.maxRestarts ?? 5,
      withinMs: policy.withinMs ?? 60_000,
      backoff: policy.backoff ?? DEFAULT_BACKOFF,
    };
    const actor = createActor(supervisorMachine, {
      id: `supervisor:${entry.child.id}`,
      input,
      clock: this.env.clock,
      ...(this.env.inspect && { inspect: this.env.inspect }),
    });
    actor.on('supervisor.restart', () => this.restart(entry));
    actor.on('supervisor.gaveUp', (e) => this.gaveUp(entry, e.error));
    return actor.start();
  }

  private restart(entry: Supervision): void {
    if (this.children.get(entry.child.id) !== entry || this.stopping) return;
    entry.restarts++;
    entry.status = 'running';
    this.env.logger.info(
      { actor: entry.child.kind, id: entry.child.id, restarts: entry.restarts },
      'restarting',
    );
    entry.child.restart();
    this.notify({ type: 'restarted', id: entry.child.id, kind: entry.child.kind, restarts: entry.restarts });
  }

  private gaveUp(entry: Supervision, error: ChildFailure | undefined): void {
    entry.status = 'failed';
    this.env.logger.error(
      { actor: entry.child.kind, id: entry.child.id, err: error },
      'supervised actor failed for good',
    );
    this.notify({ type: 'failed', id: entry.child.id, kind: entry.child.kind, error });
  }

  private notify(notice: SupervisorNotice): void {
    for (const listener of this.listeners) listener(notice);
  }

  private watch(entry: Supervision): void {
    this.watched.add(entry);
    if (this.sweepTimer !== undefined) return;
    const tick = (): void => {
      this.sweep();
      this.sweepTimer = this.watched.size
        ? this.env.clock.setTimeout(tick, this.env.sweepMs ?? 1_000)
        : undefined;
    };
    this.sweepTimer = this.env.clock.setTimeout(tick, this.env.sweepMs ?? 1_000);
  }

  /** Checks watched children that cannot announce their own failure. */
  sweep(): void {
    for (const entry of this.watched) {
      if (entry.status !== 'running') continue;
      const error = entry.probe?.();
      if (error) entry.failed(error);
    }
  }

  /** Stops the sweep timer; children are left as they are. */
  dispose(): void {
    if (this.sweepTimer !== undefined) this.env.clock.clearTimeout(this.sweepTimer);
    this.sweepTimer = undefined;
  }
}
