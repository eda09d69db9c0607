import { assign, fromPromise, setup, type ActorRefFrom, type SnapshotFrom } from 'xstate';
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
 * The queue hosts it per job while a worker holds the job (`src/queue/runner.ts`); backing off
 * and delays happen on the broker, so they survive the process, and the `delayed` and `failed`
 * timers here model the same rules for pure use. Why it is hosted the way it is: BENCHMARKS.md,
 * design measurements.
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

/**
 * Events the host sends. `job.release` hands an active job back untried (shutdown).
 * `job.stalled` says the store handed this job out `deliveries` times before without it ever
 * settling (its worker died mid-try each time): those tries count, and the job is dead rather than
 * looping forever.
 */
export type RetryJobEvent =
  { type: 'job.start' } | { type: 'job.release' } | { type: 'job.stalled'; deliveries: number };

/** The id of the invoked handler actor: its events are `xstate.done.actor.handler` / `xstate.error.actor.handler`. */
export const HANDLER_ID = 'handler';

/** Input of the invoked handler actor. */
export interface HandlerInput {
  readonly job: unknown;
  readonly attempt: number;
}

/** The context a job starts with: no try made in this life yet, no error, no result. */
export function retryJobContext(input: RetryJobInput): RetryJobContext {
  // Spelled out rather than spread: this runs for every job, and a spread copy is slower.
  return {
    id: input.id,
    attemptsMade: input.attemptsMade,
    maxAttempts: input.maxAttempts,
    backoff: input.backoff,
    timeoutMs: input.timeoutMs,
    delayMs: input.delayMs,
    job: input.job,
    attempt: input.attemptsMade,
    error: undefined,
    reason: undefined,
    result: undefined,
  };
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
    recordStall: assign(({ context, event }) => {
      const n = event.type === 'job.stalled' ? event.deliveries : 0;
      return {
        attempt: context.attempt + n,
        reason: 'timeout' as const,
        error: {
          name: 'StalledError',
          message: `taken ${n} times and never settled: its worker died each time`,
        },
      };
    }),
    recordTimeout: assign({
      reason: 'timeout' as const,
      error: ({ context }) =>
        describeError(new TimeoutError(context.timeoutMs, `job timed out after ${context.timeoutMs} ms`)),
    }),
  },
}).createMachine({
  id: 'retryJob',
  context: ({ input }) => retryJobContext(input),
  initial: 'waiting',
  states: {
    waiting: {
      always: { guard: 'isDelayed', target: 'delayed' },
      on: { 'job.start': 'active', 'job.stalled': { target: 'dead', actions: 'recordStall' } },
    },
    delayed: {
      after: { delay: { target: 'waiting', actions: 'clearDelay' } },
    },
    active: {
      entry: ['beginAttempt', 'onActive'],
      invoke: {
        id: HANDLER_ID,
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
export type RetryJobSnapshot = SnapshotFrom<typeof retryJobMachine>;
