import { createActor } from 'xstate';
import type { Env } from '../../env.js';
import { ValidationError } from '../../errors.js';
import { exponential } from '../../retry/backoff.js';
import {
  restartPolicyMachine,
  type ChildFailure,
  type RestartPolicyActorRef,
  type RestartPolicyInput,
} from '../../machines/restart-policy.machine.js';
import {
  supervisorMachine,
  type ChildHealth,
  type SupervisorEvent,
  type SupervisorActorRef,
  type SupervisorSnapshot,
} from '../../machines/supervisor.machine.js';
import { ActorGroups, type ActorGroup } from '../groups/actor-group.js';
import { childHealth } from './child-health.js';
import {
  stateName,
  type ActorInfo,
  type ActorReport,
  type ChildStatus,
  type RestartPolicy,
  type SupervisedChild,
  type SupervisorNotice,
} from './types.js';

/** What a supervisor runs in; `inspect` reaches every root actor it creates (policy actors, actor groups). */
export interface SupervisorEnvironment extends Env {
  /**
   * Up to this many children, `report()` lists every child; beyond it, the ones that are not
   * HEALTHY (a report then costs what is wrong, not what exists). @default 1_000
   */
  readonly reportAllUpTo?: number;
}

const DEFAULT_BACKOFF = exponential({ initialMs: 100, maxMs: 10_000, jitter: 'equal' });

/** A child's supervision record: its policy, counters and, once it first failed, its policy actor. */
export class Supervision {
  status: ChildStatus = 'running';
  restarts = 0;
  lastError: ChildFailure | undefined = undefined;
  policyActor: RestartPolicyActorRef | undefined = undefined;
  /** What the supervisor actor last heard of this child. */
  reported: ChildHealth | undefined = undefined;

  constructor(
    readonly supervisor: Supervisor,
    readonly child: SupervisedChild,
    readonly policy: RestartPolicy | false,
    /** Tells whether the child, as it is now, has failed; asked each time it says it changed. */
    readonly probe: (() => ChildFailure | undefined) | undefined,
  ) {}

  /** The child's state changed: a failure goes to its restart policy, its health to the supervisor. */
  changed(): void {
    const error = this.status === 'running' ? this.probe?.() : undefined;
    if (error) this.failed(error);
    else this.supervisor.reportChild(this);
  }

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
 * The runtime's supervisor: tracks every supervised child, restarts failed ones one-for-one
 * through a restart-policy actor each, and runs the supervisor actor (`supervisor`), whose state
 * is the aggregate health that every child's reports add up to. Children report changes
 * ({@link Supervision.changed}); nothing is polled. Hosted machines are members of small actor
 * groups ({@link ActorGroup}), never XState children listed under one parent, so spawning and
 * stopping cost the same at 10 or 100,000 children.
 * @example
 * const supervisor = new Supervisor({ clock: systemClock, logger });
 * const cache = spawnSupervised(supervisor, cacheMachine, { id: 'cache', restart: { maxRestarts: 3 } });
 */
export class Supervisor {
  private readonly children = new Map<string, Supervision>();
  /** The next suffix to try per id base: `freeId` finds a free id in constant time. */
  private readonly suffixes = new Map<string, number>();
  private readonly listeners = new Set<(notice: SupervisorNotice) => void>();
  private stopping = false;
  private readonly groups: ActorGroups;
  /** The supervisor actor: its state is the aggregate health, its context every child's status. */
  readonly actor: SupervisorActorRef;
  /**
   * Reports of this turn not yet sent, the latest per child (`undefined`: removed). They go to the
   * actor as one event at the end of the turn, or before anything reads it.
   */
  private pending = new Map<string, ChildHealth | undefined>();
  private flushQueued = false;

  constructor(readonly env: SupervisorEnvironment) {
    this.groups = new ActorGroups(env, (group, notice) =>
      this.children.get(notice.id)?.child.memberNotice?.(group, notice),
    );
    this.actor = createActor(supervisorMachine, {
      id: 'supervisor',
      clock: env.clock,
      ...(env.inspect && { inspect: env.inspect }),
    }).start();
  }

  /**
   * The supervisor actor's snapshot, with this turn's reports in it: `value` is the aggregate
   * health, `context.children` each child's.
   */
  getSnapshot(): SupervisorSnapshot {
    this.flush();
    return this.actor.getSnapshot();
  }

  /** Reports a child that is not supervised (a health check, a registered service); `undefined` removes it. */
  reportHealth(id: string, health: ChildHealth | undefined): void {
    this.post(id, health);
  }

  /** Sends what the supervisor actor must hear: this turn's reports first, so that they keep their order. */
  send(event: SupervisorEvent): void {
    this.flush();
    this.actor.send(event);
  }

  /** Queues a report for the end of the turn; a later one of the same child replaces it. */
  private post(id: string, health: ChildHealth | undefined): void {
    this.pending.set(id, health);
    if (this.flushQueued) return;
    this.flushQueued = true;
    queueMicrotask(this.flush);
  }

  /** Sends the queued reports: one as `child.reported` / `child.removed`, several as `children.reported`. */
  private readonly flush = (): void => {
    this.flushQueued = false;
    const pending = this.pending;
    if (pending.size === 0) return;
    this.pending = new Map();
    // Reports of children that stop after the supervisor did have no one to tell.
    if (this.actor.getSnapshot().status !== 'active') return;
    if (pending.size > 1) return this.actor.send({ type: 'children.reported', reports: [...pending] });
    const [id, health] = pending.entries().next().value as [string, ChildHealth | undefined];
    this.actor.send(health ? { type: 'child.reported', id, health } : { type: 'child.removed', id });
  };

  /** @internal sends a supervised child's health when it changed */
  reportChild(entry: Supervision): void {
    if (this.children.get(entry.child.id) !== entry) return;
    const next = childHealth(entry.child.kind, entry.status, entry.child.state?.(), entry.lastError);
    const last = entry.reported;
    // A healthy child's moves between healthy states (idle, handling, …) do not concern health.
    if (last && last.status === next.status && (next.status === 'HEALTHY' || last.state === next.state))
      return;
    entry.reported = next;
    this.post(entry.child.id, next);
  }

  /**
   * Puts a child under supervision.
   * @param probe - tells whether the child has failed; asked whenever it reports a change
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
    this.reportChild(entry);
    return entry;
  }

  /** @internal the actor group a hosted actor joins as it is spawned: the newest, or a new one once it is full */
  joinGroup(): ActorGroup {
    return this.groups.join();
  }

  /** @returns `base`, or `base#2`, `base#3`, … : an id no supervised child has, found in constant time */
  freeId(base: string): string {
    if (!this.children.has(base)) return base;
    let n = this.suffixes.get(base) ?? 2;
    while (this.children.has(`${base}#${n}`)) n++;
    this.suffixes.set(base, n + 1);
    return `${base}#${n}`;
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

  /**
   * @returns supervised children's status and restart count, by id: every child up to
   * `reportAllUpTo` children, else the ones that are not HEALTHY
   */
  report(): Record<string, ActorReport> {
    const out: Record<string, ActorReport> = {};
    const all = this.children.size <= (this.env.reportAllUpTo ?? 1_000);
    const ids = all ? this.children.keys() : Object.keys(this.getSnapshot().context.problems);
    for (const id of ids) {
      const e = this.children.get(id);
      if (!e) continue;
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

  /** @returns the supervisor actor and every supervised child that is not stopped, optionally of one kind */
  actors(kind?: string): ActorInfo[] {
    const out: ActorInfo[] = [];
    if (kind === undefined || kind === 'supervisor')
      out.push({
        id: 'supervisor',
        kind: 'supervisor',
        machine: 'supervisor',
        state: String(this.getSnapshot().value),
      });
    for (const [id, e] of this.children) {
      const c = e.child;
      if (kind !== undefined && c.kind !== kind) continue;
      out.push({ id, kind: c.kind, machine: c.machine ?? c.kind, state: stateName(c.state?.() ?? e.status) });
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
    this.reportChild(entry);
    (entry.policyActor ??= this.startPolicy(entry, entry.policy)).send({
      type: 'child.failed',
      at: this.env.clock.now(),
      error,
    });
  }

  /** @internal removes a child from the map and ends its policy actor */
  forget(entry: Supervision): void {
    if (this.children.get(entry.child.id) === entry) {
      this.children.delete(entry.child.id);
      this.post(entry.child.id, undefined);
    }
    entry.policyActor?.stop();
    entry.policyActor = undefined;
  }

  private startPolicy(entry: Supervision, policy: RestartPolicy): RestartPolicyActorRef {
    const input: RestartPolicyInput = {
      childId: entry.child.id,
      maxRestarts: policy.maxRestarts ?? 5,
      withinMs: policy.withinMs ?? 60_000,
      backoff: policy.backoff ?? DEFAULT_BACKOFF,
    };
    const actor = createActor(restartPolicyMachine, {
      id: `restart:${entry.child.id}`,
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
    this.reportChild(entry);
    this.notify({ type: 'restarted', id: entry.child.id, kind: entry.child.kind, restarts: entry.restarts });
  }

  private gaveUp(entry: Supervision, error: ChildFailure | undefined): void {
    entry.status = 'failed';
    this.reportChild(entry);
    this.env.logger.error(
      { actor: entry.child.kind, id: entry.child.id, err: error },
      'supervised actor failed for good',
    );
    this.notify({ type: 'failed', id: entry.child.id, kind: entry.child.kind, error });
  }

  private notify(notice: SupervisorNotice): void {
    for (const listener of this.listeners) listener(notice);
  }

  /** Stops the supervisor actor; children are left as they are. */
  dispose(): void {
    this.flush();
    this.actor.stop();
  }
}
