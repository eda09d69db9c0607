import {
  and,
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
 * One job's life while a worker holds it: `waiting` → `active` (a try) → `completed`, or →
 * `failed` (backing off) → `active` for the next try, or → `dead` once its attempts are spent;
 * `released` when its worker hands it back untried; `parked` once a failed job's snapshot is stored
 * and it waits out its backoff in the store (`job.park`). Every way a job leaves its worker is a
 * final state, so a host never stops a job actor from outside. A host that holds the job already
 * creates the actor with `held: true`, and the first try starts with it.
 *
 * Everything here is serializable, so the snapshot a worker persists into the job's record
 * (`actor.getPersistedSnapshot()`) is the job: any worker restores the actor from it with
 * `createActor(machine, { snapshot })` after a crash or a redelivery. The backoff is an invoked
 * `backoff` timer (its due time in its own snapshot) rather than an `after`, because restored actors
 * re-arm invoked timers but not `after` delays; the per-try timeout is an `after` on the `timeout`
 * delay, armed only when `timeoutMs > 0`.
 *
 * The machine performs no I/O: the host supplies `startTry` / `abortTry` (hand a try to the
 * worker actor that runs the handler, or abort it), `report` (an outcome, for the worker to store),
 * `planRetry` (the backoff before the next try) and the `backoff` timer, with `.provide()`. The
 * try's result arrives as `try.done` or `try.failed`.
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
  /**
   * The host holds the job already: the first try starts with the actor (no `job.start` needed).
   * @default false
   */
  readonly held?: boolean;
  /**
   * The store handed this record out this many times before without it settling: with `held`, the
   * job is dead as stalled at once (see `job.stalled`). @default 0
   */
  readonly stalledDeliveries?: number;
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
  /** Starts its first try at once (`held`), or is dead at once (`stalled` > 0), when created. */
  readonly held: boolean;
  readonly stalled: number;
  readonly error: JobFailure | undefined;
  /** Why the last try failed. */
  readonly reason: 'handler' | 'timeout' | undefined;
}

/**
 * Events the host sends. `job.release` hands an active job back untried (shutdown).
 * `job.stalled` says the store handed this job out `deliveries` times before without it ever
 * settling (its worker died mid-try each time): those tries count, and the job is dead rather than
 * looping forever.
 */
export type RetryJobEvent =
  | { type: 'job.start' }
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

/** What `report` tells the host, as its `params`. */
export type JobOutcome = 'completed' | 'failed' | 'dead' | 'released' | 'cancelled';

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
 * The context a job starts with: no error. A held job that is not stalled starts its next try as
 * it is created, so that try is counted here; later tries count as they start (`beginAttempt`).
 * Counting it here rather than on entry saves every job a snapshot copy.
 */
export function retryJobContext(input: RetryJobInput): RetryJobContext {
  const startsTry = (input.held ?? false) && !((input.stalledDeliveries ?? 0) > 0);
  return {
    id: input.id,
    attempt: input.attemptsMade + (startsTry ? 1 : 0),
    maxAttempts: input.maxAttempts,
    timeoutMs: input.timeoutMs,
    backoffMs: input.backoffMs,
    retryDelayMs: 0,
    held: input.held ?? false,
    stalled: input.stalledDeliveries ?? 0,
    error: undefined,
    reason: undefined,
  };
}

const report = (outcome: JobOutcome) => ({ type: 'report', params: { outcome } }) as const;

export const retryJobMachine = setup({
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
    hasTimeout: ({ context }) => context.timeoutMs > 0,
    startsHeld: ({ context }) => context.held,
    startsStalled: ({ context }) => context.held && context.stalled > 0,
    canRetry: ({ context }) => context.attempt < context.maxAttempts,
  },
  delays: {
    timeout: ({ context }) => Math.min(context.timeoutMs, NO_TIMEOUT),
  },
  actions: {
    // Effects, supplied by the host; no-ops here.
    startTry: () => undefined,
    abortTry: () => undefined,
    report: (_, _params: { outcome: JobOutcome }) => undefined,
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
      const n = event.type === 'job.stalled' ? event.deliveries : context.stalled;
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
  // A completed job's result (the output of the try that completed it); undefined otherwise.
  output: ({ event }) => event.output,
  initial: 'waiting',
  states: {
    waiting: {
      always: [
        { guard: 'startsStalled', target: 'dead', actions: 'recordStall' },
        { guard: and(['startsHeld', 'hasTimeout']), target: 'active.timed' },
        { guard: 'startsHeld', target: 'active.running' },
      ],
      on: {
        'job.start': [
          { guard: 'hasTimeout', target: 'active.timed', actions: 'beginAttempt' },
          { target: 'active.running', actions: 'beginAttempt' },
        ],
        'job.stalled': { target: 'dead', actions: 'recordStall' },
        'job.cancel': 'cancelled',
      },
    },
    active: {
      // The try was counted on the way in (by the transition, or as a held job's actor was created).
      entry: 'startTry',
      // `timed` when the job has a timeout: its `after` is the only timer a try arms.
      initial: 'running',
      states: {
        running: {},
        timed: {
          after: { timeout: { target: '#retryJob.settling', actions: ['recordTimeout', 'abortTry'] } },
        },
      },
      on: {
        'try.done': 'completed',
        'try.failed': { target: 'settling', actions: 'recordError' },
        'job.release': { target: 'released', actions: ['abortTry', 'undoAttempt', report('released')] },
        'job.cancel': { target: 'cancelled', actions: 'abortTry' },
      },
    },
    // Decides between another try and death; a transient state, never observed at rest.
    settling: {
      always: [{ guard: 'canRetry', target: 'failed', actions: 'planRetry' }, { target: 'dead' }],
    },
    failed: {
      entry: report('failed'),
      invoke: {
        id: BACKOFF_ID,
        src: 'backoff',
        input: ({ context }) => ({ ms: context.retryDelayMs }),
        onDone: [
          { guard: 'hasTimeout', target: 'active.timed', actions: 'beginAttempt' },
          { target: 'active.running', actions: 'beginAttempt' },
        ],
      },
      on: {
        'job.stalled': { target: 'dead', actions: 'recordStall' },
        'job.cancel': 'cancelled',
        // Held through the backoff by a worker that is closing: the record already says all this.
        'job.release': { target: 'released', actions: report('released') },
        'job.park': 'parked',
      },
    },
    completed: {
      type: 'final',
      entry: report('completed'),
      output: ({ event }) => (event.type === 'try.done' ? event.output : undefined),
    },
    dead: { type: 'final', entry: report('dead') },
    /** Cancelled (`queue.cancel`): never retried, no dead letter. */
    cancelled: { type: 'final', entry: report('cancelled') },
    /** Handed back untried (the worker is closing): the store keeps the job as it was. */
    released: { type: 'final' },
    /** Backing off in the store, as data: the snapshot stored at `failed` lives on, this actor ends. */
    parked: { type: 'final' },
  },
});

export type RetryJobActorRef = ActorRefFrom<typeof retryJobMachine>;
export type RetryJobSnapshot = SnapshotFrom<typeof retryJobMachine>;
