import {
  assign,
  setup,
  type ActorLogic,
  type ActorRefFrom,
  type EventObject,
  type Snapshot,
  type SnapshotFrom,
} from 'xstate';
import { TimeoutError, describeError } from '../errors.js';

/**
 * One job's life while a worker holds it: `active` (a try) → `completed`, or → `failed` (backing
 * off) → `active` for the next try, or → `dead` once its attempts are spent; `released` when its
 * worker hands it back untried; `parked` once a failed job's snapshot is stored and it waits out its
 * backoff in the store (`job.park`). A waiting job is data in the store, not an actor: the actor is
 * created by the worker that takes the job, so it starts in `active`, its try counted. Every way a
 * job leaves its worker is a final state, so a host never stops a job actor from outside; it learns
 * how the job ended from the actor's done event and final state.
 *
 * Everything here is serializable, so the snapshot a worker persists into the job's record
 * (`actor.getPersistedSnapshot()`) is the job: any worker restores the actor from it with
 * `createActor(machine, { snapshot })` after a crash or a redelivery. The backoff is an invoked
 * `backoff` timer (its due time in its own snapshot) rather than an `after`, because restored actors
 * re-arm invoked timers but not `after` delays. A queue with a per-try timeout hosts
 * {@link timedRetryJobMachine}, the same machine with an `after` on the `timeout` delay in `active`;
 * one without hosts {@link retryJobMachine}, which arms no timer at all.
 *
 * The machine performs no I/O: the host supplies `startTry` / `abortTry` (hand a try to the
 * worker actor that runs the handler, or abort it), `reportFailed` (a failed try that will be
 * retried, for the worker to store), `planRetry` (the backoff before the next try) and the
 * `backoff` timer, with `.provide()`. The try's result arrives as `try.done` or `try.failed`.
 */

/** Longest `setTimeout` Node accepts. */
export const NO_TIMEOUT = 2_147_483_647;

/** What the host gives the machine. */
export interface RetryJobInput {
  readonly id: string;
  /** Tries made before this actor was created. */
  readonly attemptsMade: number;
  readonly maxAttempts: number;
  /** A try running longer fails with a TimeoutError; 0 for none. */
  readonly timeoutMs: number;
  /** Per-job backoff resolved when the job was added: `backoffMs[n - 1]` follows try `n`. */
  readonly backoffMs?: readonly number[] | undefined;
}

/** A failure as it is stored: plain data. */
export interface JobFailure {
  readonly name: string;
  readonly message: string;
}

export interface RetryJobContext {
  readonly id: string;
  /** The current (or last) try, 1-based; 0 before the first. */
  readonly attempt: number;
  readonly maxAttempts: number;
  readonly timeoutMs: number;
  readonly backoffMs: readonly number[] | undefined;
  /** The wait before the next try, decided when the last one failed. */
  readonly retryDelayMs: number;
  readonly error: JobFailure | undefined;
  /** Why the last try failed. */
  readonly reason: 'handler' | 'timeout' | undefined;
}

/**
 * Events the host sends. `job.release` hands an active job back untried (shutdown).
 * `job.stalled` says the store handed this job out `deliveries` times before without it ever
 * settling (its worker died mid-try each time): those tries count, and the job is dead rather than
 * looping forever. A host sends it to an actor resumed at `failed`, or to one it restores at
 * `active` before any try ({@link stalledJobSnapshot}).
 */
export type RetryJobEvent =
  | { type: 'job.release' }
  /**
   * The job's snapshot (at `failed`) is stored with its retry: it waits out its backoff in the store,
   * and this actor ends (`parked`); the worker that takes the job next resumes that snapshot.
   */
  | { type: 'job.park' }
  | { type: 'job.stalled'; deliveries: number }
  /** `queue.cancel`: the job ends `cancelled` from wherever it is; a running try is aborted. */
  | { type: 'job.cancel' }
  | { type: 'try.done'; output: unknown }
  | { type: 'try.failed'; error: unknown };

/** How a job leaves its worker: `failed` (it will be retried) or one of the machine's final states. */
export type JobOutcome = 'completed' | 'failed' | 'dead' | 'released' | 'cancelled' | 'parked';

/** The id of the invoked backoff timer. */
export const BACKOFF_ID = 'backoff';

/** Input of the `backoff` timer: how long to wait. */
export interface BackoffInput {
  readonly ms: number;
}

/** The `backoff` timer's snapshot: its due time (the host clock's ms) persists with it. */
export type BackoffSnapshot = Snapshot<undefined> & { readonly input: BackoffInput; readonly dueAt: number };

/** The logic a host supplies as `backoff`. */
export type BackoffLogic = ActorLogic<BackoffSnapshot, EventObject, BackoffInput>;

/** The machine's own `backoff`: it never ends, since the machine has no clock; hosts supply a timer. */
const hostTimer: BackoffLogic = {
  config: 'backoff',
  transition: (snapshot) => snapshot,
  getInitialSnapshot: (_scope, input) => ({
    status: 'active',
    output: undefined,
    error: undefined,
    input,
    dueAt: Number.POSITIVE_INFINITY,
  }),
  getPersistedSnapshot: (snapshot) => snapshot,
  restoreSnapshot: (snapshot) => snapshot as BackoffSnapshot,
};

/**
 * The context a job starts with: no error, and the try it starts with counted (later tries count
 * as they start, `beginAttempt`). Counting it here rather than on entry saves every job a snapshot
 * copy.
 */
export function retryJobContext(input: RetryJobInput): RetryJobContext {
  return {
    id: input.id,
    attempt: input.attemptsMade + 1,
    maxAttempts: input.maxAttempts,
    timeoutMs: input.timeoutMs,
    backoffMs: input.backoffMs,
    retryDelayMs: 0,
    error: undefined,
    reason: undefined,
  };
}

const retryJobSetup = setup({
  types: {
    context: {} as RetryJobContext,
    events: {} as RetryJobEvent,
    input: {} as RetryJobInput,
  },
  actors: {
    // Supplied by the host: a timer on its clock that keeps its due time in its snapshot.
    backoff: hostTimer,
  },
  guards: {
    canRetry: ({ context }) => context.attempt < context.maxAttempts,
  },
  delays: {
    timeout: ({ context }) => Math.min(context.timeoutMs, NO_TIMEOUT),
  },
  actions: {
    // Effects, supplied by the host; no-ops here.
    startTry: () => undefined,
    abortTry: () => undefined,
    reportFailed: () => undefined,
    // The per-job backoff; a host replaces it with the queue's backoff for jobs without one.
    planRetry: assign({
      retryDelayMs: ({ context }) =>
        context.backoffMs?.[Math.min(context.attempt, context.backoffMs.length) - 1] ?? 0,
    }),
    beginAttempt: assign({ attempt: ({ context }) => context.attempt + 1 }),
    undoAttempt: assign({ attempt: ({ context }) => context.attempt - 1 }),
    recordError: assign({
      error: ({ event }) => describeError(event.type === 'try.failed' ? event.error : undefined),
      reason: 'handler' as const,
    }),
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
});

/** The transitions of a running try, with or without a timeout. */
const activeOn = {
  'try.done': 'completed',
  'try.failed': { target: 'settling', actions: 'recordError' },
  'job.release': { target: 'released', actions: ['abortTry', 'undoAttempt'] },
  'job.cancel': { target: 'cancelled', actions: 'abortTry' },
  'job.stalled': { target: 'dead', actions: ['abortTry', 'recordStall'] },
} as const;

/**
 * The machine with or without a per-try timeout: an `after` in `active` arms a timer for every try,
 * so a queue without a timeout hosts the machine that has none.
 */
function retryJobConfig(timed: boolean) {
  return retryJobSetup.createMachine({
    id: 'retryJob',
    context: ({ input }) => retryJobContext(input),
    initial: 'active',
    states: {
      active: {
        // The try was counted on the way in (by the transition, or in the context it starts with).
        entry: 'startTry',
        ...(timed && {
          after: { timeout: { target: '#retryJob.settling', actions: ['recordTimeout', 'abortTry'] } },
        }),
        on: activeOn,
      },
      // Decides between another try and death; a transient state, never observed at rest.
      settling: {
        always: [{ guard: 'canRetry', target: 'failed', actions: 'planRetry' }, { target: 'dead' }],
      },
      failed: {
        entry: 'reportFailed',
        invoke: {
          id: BACKOFF_ID,
          src: 'backoff',
          input: ({ context }) => ({ ms: context.retryDelayMs }),
          onDone: { target: 'active', actions: 'beginAttempt' },
        },
        on: {
          'job.stalled': { target: 'dead', actions: 'recordStall' },
          'job.cancel': 'cancelled',
          // Held through the backoff by a worker that is closing: the record already says all this.
          'job.release': 'released',
          'job.park': 'parked',
        },
      },
      completed: {
        type: 'final',
        // A completed job's result: the output of the try that completed it.
        output: ({ event }) => (event.type === 'try.done' ? event.output : undefined),
      },
      dead: { type: 'final' },
      /** Cancelled (`queue.cancel`): never retried, no dead letter. */
      cancelled: { type: 'final' },
      /** Handed back untried (the worker is closing): the store keeps the job as it was. */
      released: { type: 'final' },
      /** Backing off in the store, as data: the snapshot stored at `failed` lives on, this actor ends. */
      parked: { type: 'final' },
    },
    // The final state's output: a completed job's result, undefined otherwise.
    output: ({ event }) => event.output,
  });
}

/** A job's tries on a queue without a per-try timeout: no timer is armed while a try runs. */
export const retryJobMachine = retryJobConfig(false);

/** A job's tries on a queue with a per-try timeout (`timeoutMs` > 0): a try running longer fails. */
export const timedRetryJobMachine = retryJobConfig(true);

/**
 * A job the store handed out `deliveries` times before without it settling, restored at `active`
 * before its try starts: send it `{ type: 'job.stalled', deliveries }` and it is dead, those tries
 * counted, without running again.
 */
export function stalledJobSnapshot(machine: typeof retryJobMachine, input: RetryJobInput) {
  return machine.resolveState({
    value: 'active',
    context: { ...retryJobContext(input), attempt: input.attemptsMade },
  });
}

export type RetryJobActorRef = ActorRefFrom<typeof retryJobMachine>;
export type RetryJobSnapshot = SnapshotFrom<typeof retryJobMachine>;
