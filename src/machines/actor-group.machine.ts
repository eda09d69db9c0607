import {
  emit,
  setup,
  stopChild,
  type ActorRefFrom,
  type AnyActorRef,
  type DoneActorEvent,
  type ErrorActorEvent,
} from 'xstate';

/**
 * The XState parent of a group of supervised actors.
 *
 * Every supervised actor is created with a group as its parent. The group's members share the
 * group's actor system (scheduler, inspection, registry) instead of building one each, and report
 * a failure or a final state to their parent, so the host needs no subscription per actor. The
 * group never lists its members in its snapshot's `children`: XState copies that map on every spawn
 * and stop, which makes both O(n) under one parent. A group holds at most a fixed number of members
 * (the host starts a new group when one is full), which also bounds what the shared scheduler scans
 * when a member stops.
 *
 * The machine only translates: members' `xstate.error.actor.*` and `xstate.done.actor.*` become the
 * emitted `member.failed` and `member.done` that the host listens to, and `member.stop` stops one.
 */

/** Events the group receives: the host's `member.stop`, and what its members report. */
export type ActorGroupEvent =
  { type: 'member.stop'; ref: AnyActorRef } | ErrorActorEvent<unknown> | DoneActorEvent<unknown>;

/** What the group tells its host. */
export type ActorGroupNotice =
  { type: 'member.failed'; id: string; error: unknown } | { type: 'member.done'; id: string };

export const actorGroupMachine = setup({
  types: {
    events: {} as ActorGroupEvent,
    emitted: {} as ActorGroupNotice,
  },
  actions: {
    stopMember: stopChild(({ event }) => (event as Extract<ActorGroupEvent, { type: 'member.stop' }>).ref),
    reportFailure: emit(({ event }) => ({
      type: 'member.failed' as const,
      id: (event as ErrorActorEvent).actorId,
      error: (event as ErrorActorEvent).error,
    })),
    reportDone: emit(({ event }) => ({
      type: 'member.done' as const,
      id: (event as DoneActorEvent).actorId,
    })),
  },
}).createMachine({
  id: 'supervisorGroup',
  on: {
    'member.stop': { actions: 'stopMember' },
    'xstate.error.actor.*': { actions: 'reportFailure' },
    'xstate.done.actor.*': { actions: 'reportDone' },
  },
});

export type ActorGroupRef = ActorRefFrom<typeof actorGroupMachine>;
