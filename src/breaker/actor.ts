import type { Inspect } from '../env.js';
import { ActorGroups } from '../actors/groups/actor-group.js';
import type { Clock } from '../time/clock.js';
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
  readonly inspect: Inspect | undefined;
}

/** A running breaker actor and how to stop it. */
export interface BreakerActor {
  readonly ref: CircuitBreakerActorRef;
  /** Stops the actor (and its reset timer). Idempotent. */
  stop(): void;
}

/** Actor groups per clock and inspector: a breaker's actor joins one and shares its actor system. */
const pools = new WeakMap<Clock, { plain?: ActorGroups; inspected: WeakMap<object, ActorGroups> }>();

function groupsFor(clock: Clock, inspect: Inspect | undefined): ActorGroups {
  let byClock = pools.get(clock);
  if (!byClock) pools.set(clock, (byClock = { inspected: new WeakMap() }));
  if (!inspect) return (byClock.plain ??= new ActorGroups({ name: 'breakerGroup', clock }));
  let groups = byClock.inspected.get(inspect);
  if (!groups)
    byClock.inspected.set(inspect, (groups = new ActorGroups({ name: 'breakerGroup', clock, inspect })));
  return groups;
}

/**
 * Starts one breaker's actor; its only timer is the reset delay while OPEN. The actor is a member
 * of an actor group (breakers with the same clock and inspector share an actor system), so a
 * running breaker does not carry an actor system of its own.
 */
export function startBreakerActor(opts: BreakerActorOptions): BreakerActor {
  const group = groupsFor(opts.clock, opts.inspect).join();
  const ref = group.member(hostedMachine, opts.id, opts.input).start();
  let stopped = false;
  return {
    ref,
    stop: () => {
      if (stopped) return;
      stopped = true;
      group.stopMember(ref);
      group.leave();
    },
  };
}

/**
 * Calls a CLOSED breaker's window recorded, batched: the actor hears of them as one
 * `window.recorded` event per event-loop turn. Used only with an inspector attached.
 */
export class RecordedCalls {
  private successes = 0;
  private failures = 0;
  private target: CircuitBreakerActorRef | undefined;
  private readonly flush = (): void => {
    const event = { type: 'window.recorded' as const, successes: this.successes, failures: this.failures };
    this.successes = this.failures = 0;
    const target = this.target;
    this.target = undefined;
    if (target?.getSnapshot().status === 'active') target.send(event);
  };

  add(failed: boolean, actor: CircuitBreakerActorRef | undefined): void {
    if (!actor) return;
    if (failed) this.failures++;
    else this.successes++;
    if (this.target === undefined) setImmediate(this.flush);
    this.target = actor;
  }
}
