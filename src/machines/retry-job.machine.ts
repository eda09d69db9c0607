import { assign, fromPromise, setup, type ActorRefFrom } from 'xstate';
import { TimeoutError, describeError } from '../errors.js';
import type { Backoff } from '../retry/backoff.js';

/**
 * One job's life: `waiting` → `active` → `completed`, or → `failed` (backing off) → `waiting` for
 * the next try, or → `dead` once its attempts are spent. A job added with a delay starts `delayed`.
 *
 * The handler is the invoked `handler` promise actor; leaving `active` (timeout, release, stop)
 * stops it, which aborts the `AbortSignal` it was given. Every wait is an `after` on a named delay
 * whose length comes from input, so a simulated clock drives the whole life in tests.
 *
 * The queue hosts this machine while a job is in its process: created on pick-up, started with
 * `job.start`, stopped once it settled. Backing off and delays then happen on the broker, so they
 * survive the process; the `delayed` and `failed` timers here model the same rules for pure use.
 */

/** Longest `setTimeout` Node accepts; the `timeout` delay when there is none. */
export const NO_TIMEOUT = 2_147_483_647;

/** What the host gives the machine. */
export interface RetryJobInput {
  readonly id: string;
  /** Tries made before this actor was created. */
  readonly attemptsMade: number;
  readonly maxAttempts: number;
  /** `backoff.delay(n)`: the wait after try `n` failed. */
  readonly backoff: Backoff;
  /** A try running longer fails with a TimeoutError; 0 for none. */
  readonly timeoutMs: number;
  /** Wait before the first try. */
  readonly delayMs: number;
  /** Opaque to the machine: handed to the `handler` actor and to the settle actions. */
  readonly job: unknown;
}

export interface RetryJobContext extends RetryJobInput {
  /** The current (or last) try, 1-based; 0 before the first. */
  readonly attempt: number;
  readonly error: { readonly name: string; readonly message: string } | undefined;
  /** Why the last try failed. */
  readonly reason: 'handler' | 'timeout' | undefined;
  readonly result: unknown;
}

/** Events the host sends. `job.release` hands an active job back untried (shutdown). */
export type RetryJobEvent = { type: 'job.start' } | { type: 'job.release' };

/** Input of the invoked handler actor. */
export interface HandlerInput {
  readonly job: unknown;
  readonly attempt: number;
}

export const retryJobMachine = setup({
  types: {
    context: {} as RetryJobContext,
    events: {} as RetryJobEvent,
    input: {} as RetryJobInput,
  },
  actors: {
    // Supplied by the queue with `.provide()`: it runs the user's handler with the actor's signal.
    handler: fromPromise<unknown, HandlerInput>(async () => undefined),
  },
  guards: {
    isDelayed: ({ context }) => context.delayMs > 0,
    canRetry: ({ context }) => context.attempt < context.maxAttempts,
  },
  delays: {
    delay: ({ context }) => context.delayMs,
    timeout: ({ context }) => (context.timeoutMs > 0 ? context.timeoutMs : NO_TIMEOUT),
    backoff: ({ context }) => context.backoff.delay(context.attempt),
  },
  actions: {
    // Side effects of settling, supplied by the host; pure no-ops here.
    onActive: () => undefined,
    onCompleted: () => undefined,
    onFailed: () => undefined,
    onDead: () => undefined,
    onReleased: () => undefined,
    beginAttempt: assign({ attempt: ({ context }) => context.attempt + 1 }),
    undoAttempt: assign({ attempt: ({ context }) => context.attempt - 1 }),
    clearDelay: assign({ delayMs: 0 }),
    recordTimeout: assign({
      reason: 'timeout' as const,
      error: ({ context }) =>
        describeError(new TimeoutError(context.timeoutMs, `job timed out after ${context.timeoutMs} ms`)),
    }),
  },
}).createMachine({
  id: 'retryJob',
  context: ({ input }) => ({
    ...input,
    attempt: input.attemptsMade,
    error: undefined,
    reason: undefined,
    result: undefined,
  }),
  initial: 'waiting',
  states: {
    waiting: {
      always: { guard: 'isDelayed', target: 'delayed' },
      on: { 'job.start': 'active' },
    },
    delayed: {
      after: { delay: { target: 'waiting', actions: 'clearDelay' } },
    },
    active: {
      entry: ['beginAttempt', 'onActive'],
      invoke: {
        id: 'handler',
        src: 'handler',
        input: ({ context }) => ({ job: context.job, attempt: context.attempt }),
        onDone: {
          target: 'completed',
          actions: assign({ result: ({ event }) => event.output, error: undefined, reason: undefined }),
        },
        onError: {
          target: 'settling',
          actions: assign({ error: ({ event }) => describeError(event.error), reason: 'handler' as const }),
        },
      },
      after: { timeout: { target: 'settling', actions: 'recordTimeout' } },
      on: { 'job.release': { target: 'waiting', actions: ['undoAttempt', 'onReleased'] } },
    },
    // Decides between another try and death; a transient state, never observed at rest.
    settling: {
      always: [{ guard: 'canRetry', target: 'failed' }, { target: 'dead' }],
    },
    failed: {
      entry: 'onFailed',
      after: { backoff: 'waiting' },
    },
    completed: { type: 'final', entry: 'onCompleted' },
    dead: { type: 'final', entry: 'onDead' },
  },
});

export type RetryJobActorRef = ActorRefFrom<typeof retryJobMachine>;
