import type { AnyActorRef } from 'xstate';
import type { BackoffLogic, BackoffSnapshot } from '../machines/retry-job.machine.js';
import type { Clock } from '../time/clock.js';

/**
 * Actor logic for a wait on `clock`: done once `input.ms` have passed, never earlier. Unlike an
 * `after` delay, it survives persistence: `getPersistedSnapshot()` keeps the due time, and an actor
 * restored from it (`createActor(machine, { snapshot })`, which restores invoked children) waits
 * only the remainder, or finishes at once when the time has already come.
 * @param clock - the clock that arms it and tells the time
 * @example
 * const machine = retryJobMachine.provide({ actors: { backoff: fromTimer(systemClock) } });
 */
export function fromTimer(clock: Clock): BackoffLogic {
  const handles = new WeakMap<AnyActorRef, unknown>();
  const arm = (self: AnyActorRef, dueAt: number): void => {
    // A timer may fire early by the part of a millisecond the clock rounds away: re-arm until due.
    const fire = (): void => (clock.now() >= dueAt ? self.send({ type: 'timer.fire' }) : arm(self, dueAt));
    handles.set(self, clock.setTimeout(fire, Math.max(0, dueAt - clock.now())));
  };
  const disarm = (self: AnyActorRef): void => {
    const handle = handles.get(self);
    if (handle === undefined) return;
    handles.delete(self);
    clock.clearTimeout(handle);
  };
  return {
    config: fromTimer,
    getInitialSnapshot: (_scope, input) => ({
      status: 'active',
      output: undefined,
      error: undefined,
      input,
      dueAt: clock.now() + Math.max(0, input.ms),
    }),
    start: (snapshot, { self }) => {
      if (snapshot.status === 'active') arm(self, snapshot.dueAt);
    },
    transition: (snapshot, event, { self }) => {
      if (snapshot.status !== 'active') return snapshot;
      if (event.type === 'timer.fire') {
        handles.delete(self);
        return { ...snapshot, status: 'done', output: undefined, error: undefined };
      }
      if (event.type === 'xstate.stop') {
        disarm(self);
        return { ...snapshot, status: 'stopped', output: undefined, error: undefined };
      }
      return snapshot;
    },
    getPersistedSnapshot: (snapshot) => snapshot,
    restoreSnapshot: (snapshot) => snapshot as BackoffSnapshot,
  };
}
