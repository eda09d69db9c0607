import { assign, emit, setup, type ActorRefFrom } from 'xstate';
import type { Backoff } from '../retry/backoff.js';

/**
 * One-for-one supervision of one child: when the child fails, wait a backoff and restart it;
 * more than `maxRestarts` failures within `withinMs` and the child is given up on (`failed`).
 *
 * The host creates one of these per child, and only once that child first fails: a healthy child
 * costs its supervisor nothing. The machine never touches the child. It tells the host what to do
 * by emitting `supervisor.restart` (start the child again) and `supervisor.gaveUp` (mark it failed,
 * raise an alert). Time reaches it only through event timestamps (`at`) and the `restartDelay`
 * delay that the host's clock drives.
 */

/** What the host gives the machine. */
export interface RestartPolicyInput {
  /** The supervised child's id, for people and the inspector. */
  readonly childId: string;
  /** Failures tolerated within `withinMs`; one more and the child is failed for good. */
  readonly maxRestarts: number;
  /** The sliding window the failures are counted in. */
  readonly withinMs: number;
  /** Delay before the `n`-th restart within the window. */
  readonly backoff: Backoff;
}

/** A child failure, as the host saw it. */
export interface ChildFailure {
  readonly name: string;
  readonly message: string;
}

export interface RestartPolicyContext extends RestartPolicyInput {
  /** Timestamps (host clock, ms) of the failures still inside the window, oldest first. */
  readonly failures: readonly number[];
  /** Restarts done since this child was spawned. */
  readonly restarts: number;
  readonly lastError: ChildFailure | undefined;
}

/** Events the host sends. */
export type RestartPolicyEvent =
  /** The child failed (XState `error` status, or a bulwark actor in its `failed` state). */
  | { type: 'child.failed'; at: number; error: ChildFailure }
  /** Manual reset of a failed child: forget its failures and restart it. */
  | { type: 'reset' }
  /** The child is being stopped on purpose; nothing more to supervise. */
  | { type: 'stop' };

/** What the machine asks of its host. */
export type RestartPolicyEmitted =
  | { type: 'supervisor.restart'; childId: string; restarts: number }
  | { type: 'supervisor.gaveUp'; childId: string; failures: number; error: ChildFailure | undefined };

/** @returns the failure timestamps that are still within `withinMs` of `now`, plus `now` */
function windowWith(context: RestartPolicyContext, now: number): number[] {
  const from = now - context.withinMs;
  return [...context.failures.filter((t) => t > from), now];
}

export const restartPolicyMachine = setup({
  types: {
    context: {} as RestartPolicyContext,
    events: {} as RestartPolicyEvent,
    input: {} as RestartPolicyInput,
    emitted: {} as RestartPolicyEmitted,
  },
  guards: {
    withinLimit: ({ context, event }) =>
      event.type === 'child.failed' && windowWith(context, event.at).length <= context.maxRestarts,
  },
  delays: {
    restartDelay: ({ context }) => context.backoff.delay(Math.max(1, context.failures.length)),
  },
  actions: {
    recordFailure: assign(({ context, event }) =>
      event.type === 'child.failed'
        ? { failures: windowWith(context, event.at), lastError: event.error }
        : {},
    ),
    countRestart: assign({ restarts: ({ context }) => context.restarts + 1 }),
    forgetFailures: assign({ failures: [] as readonly number[] }),
    requestRestart: emit(({ context }) => ({
      type: 'supervisor.restart' as const,
      childId: context.childId,
      restarts: context.restarts,
    })),
    reportGaveUp: emit(({ context }) => ({
      type: 'supervisor.gaveUp' as const,
      childId: context.childId,
      failures: context.failures.length,
      error: context.lastError,
    })),
  },
}).createMachine({
  id: 'restartPolicy',
  context: ({ input }) => ({ ...input, failures: [], restarts: 0, lastError: undefined }),
  initial: 'running',
  states: {
    running: {
      on: {
        'child.failed': [
          { guard: 'withinLimit', target: 'backingOff', actions: 'recordFailure' },
          { target: 'failed', actions: 'recordFailure' },
        ],
      },
    },
    backingOff: {
      after: { restartDelay: { target: 'running', actions: ['countRestart', 'requestRestart'] } },
    },
    failed: {
      entry: 'reportGaveUp',
      on: { reset: { target: 'running', actions: ['forgetFailures', 'countRestart', 'requestRestart'] } },
    },
    stopped: { type: 'final' },
  },
  on: { stop: '.stopped' },
});

export type RestartPolicyActorRef = ActorRefFrom<typeof restartPolicyMachine>;
