import { createActor } from 'xstate';
import {
  actorGroupMachine,
  type ActorGroupNotice,
  type ActorGroupRef,
} from '../../machines/actor-group.machine.js';
import type { SupervisorEnvironment } from './supervisor.js';

/**
 * Members per group. Members share their group's scheduler, whose cancellation on a member's stop
 * scans the group's pending timers, so a group stays small; a bigger group saves little more than
 * the ~2 KB of actor system it shares.
 */
export const GROUP_SIZE = 64;

/**
 * A started group actor (the XState parent of up to {@link GROUP_SIZE} supervised actors) and how
 * many of its members are still alive. A full group takes no new members; it stops once its last
 * member has left.
 */
export class ActorGroup {
  readonly ref: ActorGroupRef;
  private admitted = 0;
  private members = 0;

  constructor(env: SupervisorEnvironment, onNotice: (group: ActorGroup, notice: ActorGroupNotice) => void) {
    this.ref = createActor(actorGroupMachine, {
      clock: env.clock,
      ...(env.inspect && { inspect: env.inspect }),
    });
    const forward = (notice: ActorGroupNotice): void => onNotice(this, notice);
    this.ref.on('member.failed', forward);
    this.ref.on('member.done', forward);
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

  /** Counts a member out; the group stops when it is full and empty. */
  leave(): void {
    if (--this.members === 0 && this.full) this.ref.stop();
  }

  /** Stops the group actor (the supervisor's shutdown, once its members are stopped). */
  stop(): void {
    this.ref.stop();
  }
}
