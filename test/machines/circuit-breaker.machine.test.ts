import { describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import {
  circuitBreakerMachine,
  type CircuitBreakerEvent,
} from '../../src/machines/circuit-breaker.machine.js';
import { TestClock } from '../support/clock.js';

function setupBreaker(opts: { resetTimeoutMs?: number; halfOpenMaxCalls?: number; successes?: number } = {}) {
  const clock = new TestClock();
  const window = { tripped: true, resets: 0, isTripped: () => window.tripped };
  const machine = circuitBreakerMachine.provide({ actions: { resetWindow: () => void window.resets++ } });
  const actor = createActor(machine, {
    clock,
    input: {
      window,
      resetTimeoutMs: opts.resetTimeoutMs ?? 1_000,
      halfOpenMaxCalls: opts.halfOpenMaxCalls ?? 1,
      halfOpenSuccessThreshold: opts.successes ?? 1,
    },
  }).start();
  const send = (...events: CircuitBreakerEvent['type'][]) =>
    events.forEach((type) => actor.send({ type } as CircuitBreakerEvent));
  return {
    actor,
    clock,
    window,
    send,
    state: () => actor.getSnapshot().value,
    ctx: () => actor.getSnapshot().context,
  };
}

describe('circuit breaker machine', () => {
  it('starts CLOSED', () => {
    expect(setupBreaker().state()).toBe('CLOSED');
  });

  it('CLOSED -> OPEN on window.tripped when the window is past its threshold', () => {
    const { send, state } = setupBreaker();
    send('window.tripped');
    expect(state()).toBe('OPEN');
  });

  it('CLOSED stays CLOSED on window.tripped when the guard reads an untripped window', () => {
    const { send, state, window } = setupBreaker();
    window.tripped = false;
    send('window.tripped');
    expect(state()).toBe('CLOSED');
  });

  it('OPEN -> HALF_OPEN once resetTimeoutMs has passed on the clock, not before', () => {
    const { send, state, clock } = setupBreaker({ resetTimeoutMs: 5_000 });
    send('window.tripped');
    clock.advance(4_999);
    expect(state()).toBe('OPEN');
    clock.advance(1);
    expect(state()).toBe('HALF_OPEN');
  });

  it('OPEN ignores trial events and window.tripped', () => {
    const { send, state } = setupBreaker();
    send('window.tripped', 'trial.started', 'trial.succeeded', 'trial.failed', 'window.tripped');
    expect(state()).toBe('OPEN');
  });

  it('HALF_OPEN admits at most halfOpenMaxCalls trials at once', () => {
    const { send, clock, ctx } = setupBreaker({ halfOpenMaxCalls: 2, successes: 3 });
    send('window.tripped');
    clock.advance(1_000);
    send('trial.started', 'trial.started', 'trial.started');
    expect(ctx().trialsInFlight).toBe(2);
    send('trial.succeeded', 'trial.started');
    expect(ctx()).toMatchObject({ trialsInFlight: 2, trialSuccesses: 1 });
  });

  it('HALF_OPEN -> CLOSED after halfOpenSuccessThreshold successes, emptying the window', () => {
    const { send, state, clock, window } = setupBreaker({ successes: 2 });
    send('window.tripped');
    clock.advance(1_000);
    send('trial.started', 'trial.succeeded');
    expect(state()).toBe('HALF_OPEN');
    send('trial.started', 'trial.succeeded');
    expect(state()).toBe('CLOSED');
    expect(window.resets).toBe(1);
  });

  it('HALF_OPEN -> OPEN on any trial failure, for a full resetTimeoutMs again', () => {
    const { send, state, clock } = setupBreaker({ successes: 2 });
    send('window.tripped');
    clock.advance(1_000);
    send('trial.started', 'trial.succeeded', 'trial.started', 'trial.failed');
    expect(state()).toBe('OPEN');
    clock.advance(999);
    expect(state()).toBe('OPEN');
    clock.advance(1);
    expect(state()).toBe('HALF_OPEN');
  });

  it('a new HALF_OPEN period starts with no trials counted', () => {
    const { send, clock, ctx } = setupBreaker({ successes: 2, halfOpenMaxCalls: 2 });
    send('window.tripped');
    clock.advance(1_000);
    send('trial.started', 'trial.started', 'trial.succeeded', 'trial.failed');
    clock.advance(1_000);
    expect(ctx()).toMatchObject({ trialsInFlight: 0, trialSuccesses: 0 });
  });

  it('CLOSED -> OPEN on peer.opened, for what is left of the peer period', () => {
    const { actor, state, clock } = setupBreaker({ resetTimeoutMs: 10_000 });
    actor.send({ type: 'peer.opened', remainingMs: 3_000 });
    expect(state()).toBe('OPEN');
    clock.advance(2_999);
    expect(state()).toBe('OPEN');
    clock.advance(1);
    expect(state()).toBe('HALF_OPEN');
  });

  it('HALF_OPEN -> OPEN on peer.opened; OPEN and HALF_OPEN -> CLOSED on peer.closed', () => {
    const { actor, send, state, clock, window } = setupBreaker();
    send('window.tripped');
    send('peer.closed');
    expect(state()).toBe('CLOSED');
    send('window.tripped');
    clock.advance(1_000);
    actor.send({ type: 'peer.opened', remainingMs: 500 });
    expect(state()).toBe('OPEN');
    clock.advance(500);
    send('peer.closed');
    expect(state()).toBe('CLOSED');
    expect(window.resets).toBe(2);
  });

  it('manual.open -> FORCED_OPEN, which holds past any delay and ignores every automatic event', () => {
    const { actor, send, state, clock } = setupBreaker();
    send('manual.open');
    clock.advance(1_000_000);
    send('window.tripped', 'trial.started', 'trial.succeeded', 'peer.closed');
    actor.send({ type: 'peer.opened', remainingMs: 0 });
    expect(state()).toBe('FORCED_OPEN');
  });

  it('manual.close -> FORCED_CLOSED, which holds whatever trips', () => {
    const { actor, send, state } = setupBreaker();
    send('window.tripped', 'manual.close', 'window.tripped');
    actor.send({ type: 'peer.opened', remainingMs: 0 });
    expect(state()).toBe('FORCED_CLOSED');
  });

  it('a manual call overrides the other: FORCED_OPEN <-> FORCED_CLOSED', () => {
    const { send, state } = setupBreaker();
    send('manual.open', 'manual.close');
    expect(state()).toBe('FORCED_CLOSED');
    send('manual.open');
    expect(state()).toBe('FORCED_OPEN');
  });

  it('manual.reset from any state -> CLOSED with an empty window', () => {
    for (const before of [[], ['window.tripped'], ['manual.open'], ['manual.close']] as const) {
      const { send, state, window } = setupBreaker();
      send(...before, 'manual.reset');
      expect(state()).toBe('CLOSED');
      expect(window.resets).toBe(1);
    }
  });

  it('manual.open cancels a pending reset timer (no timer survives OPEN)', () => {
    const { send, state, clock } = setupBreaker();
    send('window.tripped', 'manual.open', 'manual.reset');
    clock.advance(1_000);
    expect(state()).toBe('CLOSED');
  });

  it('draws the states and the after edge for the Stately inspector', () => {
    const json = circuitBreakerMachine.toJSON() as {
      states: Record<string, { transitions: { eventType: string }[] }>;
    };
    expect(Object.keys(json.states)).toEqual(['CLOSED', 'OPEN', 'HALF_OPEN', 'FORCED_OPEN', 'FORCED_CLOSED']);
    const openEvents = json.states.OPEN!.transitions.map((t) => t.eventType);
    expect(openEvents).toContain('xstate.after.resetTimeout.circuitBreaker.OPEN');
  });

  describe('following a health check', () => {
    it('CLOSED -> OPEN on health.down, whatever the window says', () => {
      const { send, state, window, ctx } = setupBreaker();
      window.tripped = false;
      send('health.down');
      expect(state()).toBe('OPEN');
      expect(ctx().healthDown).toBe(true);
    });

    it('stays OPEN past the reset delay while the check is down, HALF_OPEN at once on health.up', () => {
      const { send, state, clock } = setupBreaker({ resetTimeoutMs: 1_000 });
      send('health.down');
      clock.advance(5_000);
      expect(state()).toBe('OPEN');
      send('health.up');
      expect(state()).toBe('HALF_OPEN');
      send('trial.started', 'trial.succeeded');
      expect(state()).toBe('CLOSED');
    });

    it('health.up before the reset delay ends still goes HALF_OPEN, and the old delay fires nothing', () => {
      const { send, state, clock } = setupBreaker({ resetTimeoutMs: 1_000 });
      send('health.down');
      clock.advance(100);
      send('health.up', 'trial.started', 'trial.failed');
      expect(state()).toBe('OPEN');
      clock.advance(999);
      expect(state()).toBe('OPEN');
      clock.advance(1);
      expect(state()).toBe('HALF_OPEN');
    });

    it('an OPEN breaker opened by failures ignores health.up and keeps its reset delay', () => {
      const { send, state, clock } = setupBreaker({ resetTimeoutMs: 1_000 });
      send('window.tripped', 'health.up');
      expect(state()).toBe('OPEN');
      clock.advance(1_000);
      expect(state()).toBe('HALF_OPEN');
    });

    it('a check going down while OPEN by failures holds it OPEN past the delay', () => {
      const { send, state, clock } = setupBreaker({ resetTimeoutMs: 1_000 });
      send('window.tripped', 'health.down');
      clock.advance(2_000);
      expect(state()).toBe('OPEN');
      send('health.up');
      expect(state()).toBe('HALF_OPEN');
    });

    it('HALF_OPEN -> OPEN on health.down; a peer closing it does not while the check is down', () => {
      const { send, state, clock } = setupBreaker({ resetTimeoutMs: 1_000 });
      send('window.tripped');
      clock.advance(1_000);
      send('health.down');
      expect(state()).toBe('OPEN');
      send('peer.closed');
      expect(state()).toBe('OPEN');
    });

    it('manual control wins: FORCED states only remember the check', () => {
      const { send, state, ctx } = setupBreaker();
      send('manual.close', 'health.down');
      expect(state()).toBe('FORCED_CLOSED');
      expect(ctx().healthDown).toBe(true);
      send('health.up', 'manual.open');
      expect(ctx().healthDown).toBe(false);
      expect(state()).toBe('FORCED_OPEN');
    });

    it('starts with the check down when the host says so', () => {
      const clock = new TestClock();
      const window = { isTripped: () => false };
      const actor = createActor(circuitBreakerMachine, {
        clock,
        input: {
          window,
          resetTimeoutMs: 10,
          halfOpenMaxCalls: 1,
          halfOpenSuccessThreshold: 1,
          healthDown: true,
        },
      }).start();
      actor.send({ type: 'window.tripped' });
      actor.send({ type: 'peer.opened', remainingMs: 10 });
      clock.advance(10);
      expect(actor.getSnapshot().value).toBe('OPEN');
      actor.stop();
    });
  });
});
