import {
  createActor,
  type Actor,
  type AnyActorLogic,
  type EventFromLogic,
  type InputFrom,
  type SnapshotFrom,
} from 'xstate';
import { describeError } from '../../errors.js';
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
}

/** A supervised root actor: the handle survives restarts, each of which starts a fresh XState actor. */
export interface SupervisedActor<TLogic extends AnyActorLogic> {
  readonly id: string;
  /** The current incarnation; a restart replaces it. */
  readonly ref: Actor<TLogic>;
  /** Restarts so far. */
  readonly restarts: number;
  /** Sends to the current incarnation. */
  send(event: EventFromLogic<TLogic>): void;
  getSnapshot(): SnapshotFrom<TLogic>;
  status(): ChildStatus;
  /** Stops the actor and removes it from supervision. Idempotent. */
  stop(): Promise<void>;
}

/** One hosted machine: starts incarnations of it and tells its supervision record how each one ends. */
class HostedActor<TLogic extends AnyActorLogic> implements SupervisedChild, SupervisedActor<TLogic> {
  readonly kind: string;
  ref!: Actor<TLogic>;
  supervision!: Supervision;
  private readonly observer = {
    error: (err: unknown) => this.supervision.failed(describeError(err)),
    complete: () => {
      if (
        this.supervision.status === 'running' &&
        (this.ref.getSnapshot() as { status?: string }).status === 'done'
      )
        this.supervision.done();
    },
  };

  constructor(
    private readonly supervisor: Supervisor,
    private readonly logic: TLogic,
    private readonly options: SpawnOptions<TLogic>,
  ) {
    this.kind = options.kind ?? 'machine';
  }

  get id(): string {
    return this.options.id;
  }

  get restarts(): number {
    return this.supervision.restarts;
  }

  start(): void {
    const env = this.supervisor.env;
    this.ref = createActor<TLogic>(this.logic, {
      id: this.options.id,
      input: this.options.input,
      clock: env.clock,
      ...(env.inspect && { inspect: env.inspect }),
    });
    this.ref.subscribe(this.observer);
    this.ref.start();
  }

  restart(): void {
    this.ref.stop();
    this.start();
  }

  stop(): Promise<void> {
    return this.supervisor.stopChild(this);
  }

  halt(): Promise<void> {
    this.ref.stop();
    return Promise.resolve();
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
    const value = (this.ref.getSnapshot() as { value?: unknown }).value;
    return typeof value === 'string' ? value : value === undefined ? undefined : JSON.stringify(value);
  }
}

/**
 * Starts `logic` as a supervised root actor: a failure (XState `error` status) restarts it with
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
  return hosted;
}
