import { assign, setup, type ActorRefFrom, type SnapshotFrom } from 'xstate';

/**
 * A circuit breaker's states and nothing else: CLOSED lets calls through, OPEN rejects them until
 * the reset delay has passed, HALF_OPEN admits a few trial calls whose results decide between
 * CLOSED and OPEN again. FORCED_OPEN and FORCED_CLOSED are manual overrides that hold until the
 * next manual event.
 *
 * The machine never sees individual calls of a CLOSED breaker: the host keeps the failure window
 * (a compact counter structure) and sends `window.tripped` only when its threshold is crossed. The
 * `thresholdReached` guard reads that same window, so the machine stays the authority on whether
 * the breaker opens. Time reaches the machine only through the `resetTimeout` delay, which the
 * host's clock drives.
 *
 * A breaker may follow a health check: `health.down` opens it and keeps it OPEN (the reset delay
 * passes without a trial) until `health.up`, which lets trials through at once.
 */

/** The part of the host's failure window the machine reads. */
export interface TripWindow {
  /** True when the recorded calls cross the failure (or slow-call) threshold. */
  isTripped(): boolean;
}

/** What the host gives the machine. */
export interface CircuitBreakerInput {
  /** The failure window the `thresholdReached` guard reads. */
  readonly window: TripWindow;
  /** How long OPEN lasts before HALF_OPEN. */
  readonly resetTimeoutMs: number;
  /** Trial calls admitted at once in HALF_OPEN. */
  readonly halfOpenMaxCalls: number;
  /** Trial successes in HALF_OPEN that close the breaker. */
  readonly halfOpenSuccessThreshold: number;
  /** Whether the health check the breaker follows is UNHEALTHY as the actor starts. @default false */
  readonly healthDown?: boolean;
}

export interface CircuitBreakerContext extends CircuitBreakerInput {
  /** Trial calls running now (HALF_OPEN only). */
  readonly trialsInFlight: number;
  /** Trial calls that succeeded since HALF_OPEN was entered. */
  readonly trialSuccesses: number;
  /** The delay of the current OPEN period: `resetTimeoutMs`, or what is left of a peer's. */
  readonly openForMs: number;
  /** Calls the window recorded, as far as the machine heard of them (only with an inspector attached). */
  readonly recorded: { readonly successes: number; readonly failures: number };
  /** The health check the breaker follows is UNHEALTHY: OPEN holds until it recovers. */
  readonly healthDown: boolean;
}

/** Events the host sends. */
export type CircuitBreakerEvent =
  /** The failure window crossed its threshold (sent only then, never per call). */
  | { type: 'window.tripped' }
  /**
   * Calls a CLOSED breaker's window recorded since the last such event: sent once per event-loop
   * turn, and only while an inspector is attached, so that it shows the calls that move the window.
   */
  | { type: 'window.recorded'; successes: number; failures: number }
  /** A HALF_OPEN trial call starts; refused (no change) when every trial slot is taken. */
  | { type: 'trial.started' }
  | { type: 'trial.succeeded' }
  | { type: 'trial.failed' }
  /** Another instance sharing this breaker opened it; `remainingMs` of its OPEN period are left. */
  | { type: 'peer.opened'; remainingMs: number }
  /** Another instance sharing this breaker closed it after its trial succeeded. */
  | { type: 'peer.closed' }
  | { type: 'manual.open' }
  | { type: 'manual.close' }
  /** Ends manual control: back to CLOSED with an empty window. */
  | { type: 'manual.reset' }
  /** The health check the breaker follows became UNHEALTHY: open, and stay OPEN while it is. */
  | { type: 'health.down' }
  /** That check recovered: an OPEN breaker held by it lets trial calls through (HALF_OPEN). */
  | { type: 'health.up' };

/** The machine's state names, as a map and a type. */
export const CircuitBreakerStateName = {
  CLOSED: 'CLOSED',
  OPEN: 'OPEN',
  HALF_OPEN: 'HALF_OPEN',
  FORCED_OPEN: 'FORCED_OPEN',
  FORCED_CLOSED: 'FORCED_CLOSED',
} as const;
export type CircuitBreakerStateName = (typeof CircuitBreakerStateName)[keyof typeof CircuitBreakerStateName];

const NOTHING_RECORDED = Object.freeze({ successes: 0, failures: 0 });

export const circuitBreakerMachine = setup({
  types: {
    context: {} as CircuitBreakerContext,
    events: {} as CircuitBreakerEvent,
    input: {} as CircuitBreakerInput,
  },
  guards: {
    thresholdReached: ({ context }) => context.window.isTripped(),
    hasTrialSlot: ({ context }) => context.trialsInFlight < context.halfOpenMaxCalls,
    enoughTrialSuccesses: ({ context }) => context.trialSuccesses + 1 >= context.halfOpenSuccessThreshold,
    healthUp: ({ context }) => !context.healthDown,
    healthDown: ({ context }) => context.healthDown,
  },
  delays: {
    resetTimeout: ({ context }) => context.openForMs,
  },
  actions: {
    // Supplied by the host with `.provide()`: it owns the window and empties it on close.
    resetWindow: () => undefined,
    openForResetTimeout: assign({ openForMs: ({ context }) => context.resetTimeoutMs }),
    openForPeerRemainder: assign({
      openForMs: ({ event }) => (event.type === 'peer.opened' ? Math.max(0, event.remainingMs) : 0),
    }),
    clearTrials: assign({ trialsInFlight: 0, trialSuccesses: 0 }),
    markHealthDown: assign({ healthDown: true }),
    markHealthUp: assign({ healthDown: false }),
    countRecorded: assign({
      recorded: ({ context, event }) =>
        event.type === 'window.recorded'
          ? {
              successes: context.recorded.successes + event.successes,
              failures: context.recorded.failures + event.failures,
            }
          : context.recorded,
    }),
    startTrial: assign({ trialsInFlight: ({ context }) => context.trialsInFlight + 1 }),
    countTrialSuccess: assign({
      trialsInFlight: ({ context }) => Math.max(0, context.trialsInFlight - 1),
      trialSuccesses: ({ context }) => context.trialSuccesses + 1,
    }),
  },
}).createMachine({
  id: 'circuitBreaker',
  // Field by field, not `{ ...input }`: a spread followed by more properties takes V8's slow path
  // and was a tenth of the cost of starting a breaker actor.
  context: ({ input }) => ({
    window: input.window,
    resetTimeoutMs: input.resetTimeoutMs,
    halfOpenMaxCalls: input.halfOpenMaxCalls,
    halfOpenSuccessThreshold: input.halfOpenSuccessThreshold,
    trialsInFlight: 0,
    trialSuccesses: 0,
    openForMs: input.resetTimeoutMs,
    recorded: NOTHING_RECORDED,
    healthDown: input.healthDown ?? false,
  }),
  initial: 'CLOSED',
  states: {
    CLOSED: {
      on: {
        'window.tripped': { guard: 'thresholdReached', target: 'OPEN', actions: 'openForResetTimeout' },
        'peer.opened': { target: 'OPEN', actions: 'openForPeerRemainder' },
        'health.down': { target: 'OPEN', actions: ['markHealthDown', 'openForResetTimeout'] },
      },
    },
    OPEN: {
      // While the followed check is UNHEALTHY the reset delay passes without a trial: `health.up` ends it.
      after: { resetTimeout: { guard: 'healthUp', target: 'HALF_OPEN' } },
      on: {
        'peer.closed': { guard: 'healthUp', target: 'CLOSED', actions: 'resetWindow' },
        'health.up': [
          { guard: 'healthDown', target: 'HALF_OPEN', actions: 'markHealthUp' },
          { actions: 'markHealthUp' },
        ],
      },
    },
    HALF_OPEN: {
      entry: 'clearTrials',
      on: {
        'trial.started': { guard: 'hasTrialSlot', actions: 'startTrial' },
        'trial.succeeded': [
          { guard: 'enoughTrialSuccesses', target: 'CLOSED', actions: 'resetWindow' },
          { actions: 'countTrialSuccess' },
        ],
        'trial.failed': { target: 'OPEN', actions: 'openForResetTimeout' },
        'peer.opened': { target: 'OPEN', actions: 'openForPeerRemainder' },
        'peer.closed': { target: 'CLOSED', actions: 'resetWindow' },
        'health.down': { target: 'OPEN', actions: ['markHealthDown', 'openForResetTimeout'] },
      },
    },
    FORCED_OPEN: {},
    FORCED_CLOSED: {},
  },
  on: {
    // Calls of the window that ended after it tripped still count: the inspector shows them all.
    'window.recorded': { actions: 'countRecorded' },
    'manual.open': '.FORCED_OPEN',
    'manual.close': '.FORCED_CLOSED',
    'manual.reset': { target: '.CLOSED', actions: 'resetWindow' },
    // Wherever no state reacts (OPEN already, or under manual control), only remember it.
    'health.down': { actions: 'markHealthDown' },
    'health.up': { actions: 'markHealthUp' },
  },
});

export type CircuitBreakerActorRef = ActorRefFrom<typeof circuitBreakerMachine>;
export type CircuitBreakerSnapshot = SnapshotFrom<typeof circuitBreakerMachine>;
