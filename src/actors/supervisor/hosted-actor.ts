import {
  createActor,
  type Actor,
  type AnyActorLogic,
  type EventFromLogic,
  type InputFrom,
  type Observer,
  type SnapshotFrom,
  type Subscription,
} from 'xstate';
import { describeError } from '../../errors.js';
import type { ActorGroupNotice } from '../../machines/actor-group.machine.js';
import type { ActorGroup } from '../groups/actor-group.js';
import type { Supervision, Supervisor } from './supervisor.js';
import type { ChildStatus, RestartPolicy, SupervisedChild } from './types.js';

/** Options of `rt.spawn`. */
export interface SpawnOptions<TLogic extends AnyActorLogic> {
  /** Unique among the runtime's supervised actors; shown in health and the inspector. */
  id: string;
  /** The machine's input; the same input is given to every restart. */
  input?: InputFrom<TLogic>;
  /** How failures are handled; `false`: a failure is final (reported, never restarted). @default {} (the policy's defaults) */
  restart?: RestartPolicy | false;
  /** Shown as `kind` in health reports. @default 'machine' */
  kind?: string;
  /**
   * Runs the actor in an actor system of its own instead of sharing its group's. Needed when the
   * machine registers `systemId`s from actions (`spawnChild(…, { systemId })`), since those must be
   * unique per system; machines that give `systemId` to an `invoke` are detected and isolated
   * anyway. An isolated actor costs about twice as much to spawn.
   * @default false
   */
  isolated?: boolean;
}

/** A supervised root actor: the handle survives restarts, each of which starts a fresh XState actor. */
export interface SupervisedActor<TLogic extends AnyActorLogic> {
  readonly id: string;
  /**
   * The current incarnation; a restart replaces it. Unless isolated, its XState parent is one of
   * the supervisor's actor groups: stop it through this handle (`ref.stop()` throws for an actor
   * with a parent).
   */
  readonly ref: Actor<TLogic>;
  /** Restarts so far. */
  readonly restarts: number;
  /** Sends to the current incarnation. */
  send(event: EventFromLogic<TLogic>): void;
  getSnapshot(): SnapshotFrom<TLogic>;
  /**
   * Listens to the snapshots of whichever incarnation is current: after a restart, the fresh
   * incarnation's initial snapshot and what follows. Failures are the supervisor's, not the
   * listener's. @returns a subscription to end listening
   */
  subscribe(listener: (snapshot: SnapshotFrom<TLogic>) => void): { unsubscribe(): void };
  status(): ChildStatus;
  /** Stops the actor and removes it from supervision. Idempotent. */
  stop(): Promise<void>;
}

/**
 * One hosted machine: starts incarnations of it as members of an actor group (isolated ones as
 * root actors with a system of their own) and tells its supervision record how each one ends: the
 * group relays a member's failure or final state, an isolated actor's subscription reports its own.
 */
class HostedActor<TLogic extends AnyActorLogic> implements SupervisedChild, SupervisedActor<TLogic> {
  readonly kind: string;
  readonly machine: string;
  ref!: Actor<TLogic>;
  supervision!: Supervision;
  /** Undefined for an isolated actor: a root actor with its own system, watched by subscription. */
  private readonly group: ActorGroup | undefined;
  private left = false;
  private observer: { error(err: unknown): void; complete(): void } | undefined;
  /** Snapshot listeners that follow restarts, each with its subscription to the current incarnation. */
  private listeners: Map<Observer<SnapshotFrom<TLogic>>, Subscription> | undefined;

  constructor(
    private readonly supervisor: Supervisor,
    private readonly logic: TLogic,
    private readonly options: SpawnOptions<TLogic>,
  ) {
    this.kind = options.kind ?? 'machine';
    this.machine =
      (logic as { id?: unknown }).id === undefined ? this.kind : String((logic as { id?: unknown }).id);
    this.group = options.isolated || registersSystemIds(logic) ? undefined : supervisor.joinGroup();
  }

  get id(): string {
    return this.options.id;
  }

  get restarts(): number {
    return this.supervision.restarts;
  }

  start(): void {
    if (!this.group) return this.startIsolated();
    this.ref = this.group.member(this.logic, this.options.id, this.options.input);
    this.attachListeners();
    this.ref.start();
  }

  private startIsolated(): void {
    const env = this.supervisor.env;
    this.ref = createActor<TLogic>(this.logic, {
      id: this.options.id,
      input: this.options.input,
      clock: env.clock,
      ...(env.inspect && { inspect: env.inspect }),
    });
    this.ref.subscribe(
      (this.observer ??= {
        error: (err: unknown) => this.supervision.failed(describeError(err)),
        complete: () => this.ended(),
      }),
    );
    this.attachListeners();
    this.ref.start();
  }

  subscribe(listener: (snapshot: SnapshotFrom<TLogic>) => void): { unsubscribe(): void } {
    // An observer without `error` would make XState rethrow a failure as unhandled.
    const observer: Observer<SnapshotFrom<TLogic>> = { next: listener, error: () => undefined };
    const listeners = (this.listeners ??= new Map());
    listeners.set(observer, this.ref.subscribe(observer));
    return {
      unsubscribe: () => {
        listeners.get(observer)?.unsubscribe();
        listeners.delete(observer);
      },
    };
  }

  private attachListeners(): void {
    if (this.listeners)
      for (const observer of this.listeners.keys())
        this.listeners.set(observer, this.ref.subscribe(observer));
  }

  restart(): void {
    this.stopIncarnation();
    this.start();
  }

  stop(): Promise<void> {
    return this.supervisor.stopChild(this);
  }

  halt(): Promise<void> {
    this.stopIncarnation();
    this.leave();
    return Promise.resolve();
  }

  memberNotice(group: ActorGroup, notice: ActorGroupNotice): void {
    if (group !== this.group) return;
    // Only the current incarnation's own end counts: a stale notice finds it running.
    const status = (this.ref.getSnapshot() as { status?: string }).status;
    if (notice.type === 'member.failed') {
      if (status === 'error') this.supervision.failed(describeError(notice.error));
    } else this.ended();
  }

  /** The current incarnation stopped: supervision ends if it reached a final state. */
  private ended(): void {
    const status = (this.ref.getSnapshot() as { status?: string }).status;
    if (status !== 'done' || this.supervision.status !== 'running') return;
    this.supervision.done();
    this.leave();
  }

  send(event: EventFromLogic<TLogic>): void {
    this.ref.send(event);
  }

  getSnapshot(): SnapshotFrom<TLogic> {
    return this.ref.getSnapshot();
  }

  status(): ChildStatus {
    return this.supervision.status;
  }

  state(): string | undefined {
    // Asked for as soon as it is supervised, which is just before its first incarnation starts.
    if (this.ref === undefined) return undefined;
    const value = (this.ref.getSnapshot() as { value?: unknown }).value;
    return typeof value === 'string' ? value : value === undefined ? undefined : JSON.stringify(value);
  }

  private stopIncarnation(): void {
    if (this.group) this.group.stopMember(this.ref);
    else this.ref.stop();
  }

  private leave(): void {
    if (this.left) return;
    this.left = true;
    this.group?.leave();
  }
}

const systemIdUse = new WeakMap<AnyActorLogic, boolean>();

/** @returns whether a machine gives a `systemId` to any of its invocations (other logic: false) */
function registersSystemIds(logic: AnyActorLogic): boolean {
  let known = systemIdUse.get(logic);
  if (known === undefined) {
    known = false;
    const root = (logic as { root?: StateNodeLike }).root;
    const pending = root ? [root] : [];
    for (let node = pending.pop(); node && !known; node = pending.pop()) {
      known = node.invoke.some((i) => i.systemId !== undefined);
      pending.push(...Object.values(node.states));
    }
    systemIdUse.set(logic, known);
  }
  return known;
}

interface StateNodeLike {
  readonly invoke: readonly { readonly systemId?: string }[];
  readonly states: Record<string, StateNodeLike>;
}

/**
 * Starts `logic` as a supervised actor: a failure (XState `error` status) restarts it with
 * backoff under its restart policy; a final state ends its supervision.
 * @throws {ValidationError} when an actor with the same id is already supervised
 * @example
 * const warmer = spawnSupervised(supervisor, cacheWarmer, { id: 'cache-warmer', restart: { maxRestarts: 5 } });
 */
export function spawnSupervised<TLogic extends AnyActorLogic>(
  supervisor: Supervisor,
  logic: TLogic,
  options: SpawnOptions<TLogic>,
): SupervisedActor<TLogic> {
  const hosted = new HostedActor(supervisor, logic, options);
  hosted.supervision = supervisor.add(hosted, options.restart ?? {});
  hosted.start();
  hosted.supervision.changed();
  return hosted;
}
