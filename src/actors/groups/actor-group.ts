import {
  createActor,
  type Actor,
  type AnyActorLogic,
  type AnyActorRef,
  type InputFrom,
  type Snapshot,
} from 'xstate';
import type { Env } from '../../env.js';
import {
  actorGroupMachine,
  type ActorGroupNotice,
  type ActorGroupRef,
} from '../../machines/actor-group.machine.js';

/** What a group's actor system runs with: every member uses its clock and inspector. */
export interface ActorGroupEnvironment extends Pick<Env, 'clock' | 'inspect'> {
  /** The group actors' id, as the inspector shows them. @default 'supervisorGroup' */
  readonly name?: string;
}

/** Hears what a group saw of its members (failures, final states). */
export type ActorGroupListener = (group: ActorGroup, notice: ActorGroupNotice) => void;

/**
 * Members per group. Members share their group's scheduler, whose cancellation on a member's stop
 * scans the group's pending timers, so a group stays small; a bigger group would save little more
 * than the one actor system it shares.
 */
export const GROUP_SIZE = 64;

/**
 * A started group actor (the XState parent of up to {@link GROUP_SIZE} actors) and how
 * many of its members are still alive. A full group takes no new members; it stops once its last
 * member has left.
 */
export class ActorGroup {
  readonly ref: ActorGroupRef;
  private admitted = 0;
  private members = 0;

  constructor(env: ActorGroupEnvironment, onNotice?: ActorGroupListener) {
    this.ref = createActor(actorGroupMachine, {
      id: env.name ?? 'supervisorGroup',
      clock: env.clock,
      ...(env.inspect && { inspect: env.inspect }),
    });
    if (onNotice) {
      const forward = (notice: ActorGroupNotice): void => onNotice(this, notice);
      this.ref.on('member.failed', forward);
      this.ref.on('member.done', forward);
    }
    this.ref.start();
  }

  /** True once the group has taken its last member. */
  get full(): boolean {
    return this.admitted >= GROUP_SIZE;
  }

  /** Counts a new member in. */
  admit(): void {
    this.admitted++;
    this.members++;
  }

  /** Creates (without starting) an actor of `logic` whose parent is this group. */
  member<TLogic extends AnyActorLogic>(
    logic: TLogic,
    id: string,
    input?: InputFrom<TLogic>,
    snapshot?: Snapshot<unknown>,
  ): Actor<TLogic> {
    // Clock, logger and inspector come from the group's actor system.
    return createActor<TLogic>(logic, { id, input, parent: this.ref, ...(snapshot && { snapshot }) });
  }

  /** Stops one member (XState refuses `stop()` on an actor that has a parent). */
  stopMember(ref: AnyActorRef): void {
    this.ref.send({ type: 'member.stop', ref });
  }

  /** Counts a member out; the group stops when it is full and empty. */
  leave(): void {
    // After the turn: a member that leaves as it reaches a final state still tells its parent so.
    if (--this.members === 0 && this.full) queueMicrotask(() => this.ref.stop());
  }

  /** Stops the group actor (the supervisor's shutdown, once its members are stopped). */
  stop(): void {
    this.ref.stop();
  }
}

/**
 * Hands out actor groups: the newest one until it is full, then a fresh one. Full groups retire
 * on their own once empty.
 * @example
 * const groups = new ActorGroups({ clock: systemClock });
 * const group = groups.join();
 * const actor = createActor(machine, { parent: group.ref }).start();
 */
export class ActorGroups {
  private current: ActorGroup | undefined;

  constructor(
    private readonly env: ActorGroupEnvironment,
    private readonly onNotice?: ActorGroupListener,
  ) {}

  /** @returns the group a new member joins (already counted in) */
  join(): ActorGroup {
    if (!this.current || this.current.full) this.current = new ActorGroup(this.env, this.onNotice);
    this.current.admit();
    return this.current;
  }

  /** Stops the group still taking members (the full ones stop as their members leave). */
  stop(): void {
    this.current?.stop();
    this.current = undefined;
  }
}
