import { assign, fromPromise, setup, type ActorRefFrom, type PromiseActorLogic } from 'xstate';

/**
 * One repeatable job's scheduler in one process: it plans the next slot, waits for it, adds the
 * slot's job, and plans again. Every process that works the queue runs one per definition; the
 * slot's job id makes their adds collapse into one job.
 *
 * The machine performs no I/O and reads no clock. The host supplies `plan` (read the definition,
 * answer the due slot and the time it planned at, both on the host's clock) and `fire` (add the
 * slot's job unless another process already did) with `.provide()`. The wait is an `after` whose
 * delay is computed from context: `due - plannedAt`, armed on the actor's clock. A failed plan or
 * fire waits `retryDelay` (doubling up to `maxRetryMs`) and plans again: a slot whose job was not
 * added is still due then, since the definition's last slot did not move.
 */

/** What the host gives the machine. */
export interface JobSchedulerInput {
  /** The definition's key in the schedulers bucket, handed to `plan` and `fire`. */
  readonly key: string;
  /** First wait after a failed plan or fire, in ms. */
  readonly retryMs: number;
  /** Longest wait after repeated failures, in ms. */
  readonly maxRetryMs: number;
  /**
   * Longest single timer, in ms: a slot further ahead is waited for in hops of this length (a
   * timer cannot wait longer than about 24.8 days).
   */
  readonly maxWaitMs: number;
}

/** The machine's context. */
export interface JobSchedulerContext extends JobSchedulerInput {
  /** The slot being waited for or fired (ms since the epoch); undefined when none is planned. */
  readonly due: number | undefined;
  /** The host's clock when `due` was planned: the wait is `due - plannedAt`. */
  readonly plannedAt: number;
  /** The last slot this machine fired. */
  readonly last: number | undefined;
  /** Plans and fires that failed in a row. */
  readonly failures: number;
  readonly lastError: { readonly name: string; readonly message: string } | undefined;
}

/** Events: the host's note that the definition changed (plan again). */
export type JobSchedulerEvent = { type: 'schedule.changed' };

/** What `plan` answers: the next slot (undefined: none, or the definition is gone) and when it planned. */
export interface PlanOutput {
  readonly due: number | undefined;
  readonly now: number;
}

/** Input of the invoked `plan` actor. */
export interface PlanInput {
  readonly key: string;
}

/** Input of the invoked `fire` actor: the slot whose job to add. */
export interface FireInput {
  readonly key: string;
  readonly slot: number;
}

/**
 * What `fire` did: `added` the job, found it a `duplicate`, found the slot `taken` by another
 * process, `stale` (the definition changed under it), or the definition `gone`.
 */
export type FireOutcome = 'added' | 'duplicate' | 'taken' | 'stale' | 'gone';

/** The logic the host supplies for `plan`. */
export type PlanLogic = PromiseActorLogic<PlanOutput, PlanInput>;
/** The logic the host supplies for `fire`. */
export type FireLogic = PromiseActorLogic<FireOutcome, FireInput>;

function errorOf(error: unknown): { name: string; message: string } {
  return error instanceof Error
    ? { name: error.name, message: error.message }
    : { name: 'Error', message: String(error) };
}

/** @returns how long after `plannedAt` the slot is due */
function remaining(context: JobSchedulerContext): number {
  return (context.due ?? context.plannedAt) - context.plannedAt;
}

/** The job scheduler machine; the host supplies its `plan` and `fire` actors with `.provide()`. */
export const jobSchedulerMachine = setup({
  types: {
    context: {} as JobSchedulerContext,
    events: {} as JobSchedulerEvent,
    input: {} as JobSchedulerInput,
  },
  actors: {
    // Supplied by the host with `.provide()`.
    plan: fromPromise<PlanOutput, PlanInput>(() => Promise.reject(new Error('plan not provided'))),
    fire: fromPromise<FireOutcome, FireInput>(() => Promise.reject(new Error('fire not provided'))),
  },
  delays: {
    untilDue: ({ context }) => Math.min(context.maxWaitMs, Math.max(0, remaining(context))),
    retryDelay: ({ context }) =>
      Math.min(context.maxRetryMs, context.retryMs * 2 ** Math.max(0, context.failures - 1)),
  },
  guards: {
    hasDue: ({ context }) => context.due !== undefined,
    dueAfterThisWait: ({ context }) => remaining(context) <= context.maxWaitMs,
  },
  actions: {
    // The hop's timer has run its full length: that much later than planned.
    hop: assign({ plannedAt: ({ context }) => context.plannedAt + context.maxWaitMs }),
    recordFailure: assign({
      failures: ({ context }) => context.failures + 1,
      lastError: ({ event }) => errorOf((event as { error?: unknown }).error),
    }),
  },
}).createMachine({
  id: 'job-scheduler',
  context: ({ input }) => ({
    ...input,
    due: undefined,
    plannedAt: 0,
    last: undefined,
    failures: 0,
    lastError: undefined,
  }),
  initial: 'planning',
  on: { 'schedule.changed': { target: '.planning', reenter: true } },
  states: {
    planning: {
      invoke: {
        src: 'plan',
        input: ({ context }) => ({ key: context.key }),
        onDone: {
          target: 'planned',
          actions: assign({
            due: ({ event }) => event.output.due,
            plannedAt: ({ event }) => event.output.now,
          }),
        },
        onError: { target: 'retrying', actions: 'recordFailure' },
      },
    },
    planned: {
      always: [{ guard: 'hasDue', target: 'waiting' }, { target: 'idle' }],
    },
    waiting: {
      after: {
        untilDue: [
          { guard: 'dueAfterThisWait', target: 'firing' },
          { target: 'waiting', reenter: true, actions: 'hop' },
        ],
      },
    },
    firing: {
      // A change mid-add lets the add finish: `fire` itself checks the definition it adds from.
      on: { 'schedule.changed': {} },
      invoke: {
        src: 'fire',
        input: ({ context }) => ({ key: context.key, slot: context.due! }),
        onDone: {
          target: 'planning',
          actions: assign({ last: ({ context }) => context.due, failures: 0, lastError: undefined }),
        },
        onError: { target: 'retrying', actions: 'recordFailure' },
      },
    },
    retrying: { after: { retryDelay: 'planning' } },
    /** No slot ahead (a cron with no further match, or the definition is gone): until it changes. */
    idle: {},
  },
});

/** A running job scheduler actor. */
export type JobSchedulerActorRef = ActorRefFrom<typeof jobSchedulerMachine>;
