import { createActor } from 'xstate';
import type { Clock } from '../clock.js';
import {
  circuitBreakerMachine,
  type CircuitBreakerActorRef,
  type CircuitBreakerEvent,
  type CircuitBreakerInput,
  type CircuitBreakerStateName,
} from '../machines/circuit-breaker.machine.js';
import type { BreakerState } from './options.js';
import type { BreakerStrategy } from './strategy.js';

// Provided once for every breaker: a per-breaker `.provide()` would copy the machine each time.
const hostedMachine = circuitBreakerMachine.provide({
  actions: { resetWindow: ({ context }) => (context.window as BreakerStrategy).reset() },
});

// Events without payload are shared constants: sending one allocates nothing.
export const WINDOW_TRIPPED: CircuitBreakerEvent = Object.freeze({ type: 'window.tripped' });
export const TRIAL_STARTED: CircuitBreakerEvent = Object.freeze({ type: 'trial.started' });
export const TRIAL_SUCCEEDED: CircuitBreakerEvent = Object.freeze({ type: 'trial.succeeded' });
export const TRIAL_FAILED: CircuitBreakerEvent = Object.freeze({ type: 'trial.failed' });

/** A call's gate, derived from the machine's state: where `execute` goes without asking the actor. */
export const PASS = 0;
export const TRIAL = 1;
export const REJECT = 2;
export const GATE: Record<CircuitBreakerStateName, number> = {
  CLOSED: PASS,
  FORCED_CLOSED: PASS,
  HALF_OPEN: TRIAL,
  OPEN: REJECT,
  FORCED_OPEN: REJECT,
};
export const PUBLIC_STATE: Record<CircuitBreakerStateName, BreakerState> = {
  CLOSED: 'CLOSED',
  FORCED_CLOSED: 'CLOSED',
  HALF_OPEN: 'HALF_OPEN',
  OPEN: 'OPEN',
  FORCED_OPEN: 'OPEN',
};

/** What {@link startBreakerActor} needs. */
export interface BreakerActorOptions {
  readonly id: string;
  readonly input: CircuitBreakerInput;
  readonly clock: Clock;
  readonly inspect: ((ev: unknown) => void) | undefined;
}

/** Starts one breaker's actor; its only timer is the reset delay while OPEN. */
export function startBreakerActor(opts: BreakerActorOptions): CircuitBreakerActorRef {
  const actor = createActor(hostedMachine, {
    id: opts.id,
    input: opts.input,
    clock: opts.clock,
    ...(opts.inspect ? { inspect: opts.inspect } : {}),
  });
  return actor.start();
}
