import { describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import {
  restartPolicyMachine,
  type RestartPolicyEmitted,
} from '../../src/machines/restart-policy.machine.js';
import { exponential, fixed } from '../../src/retry/backoff.js';
import { TestClock } from '../support/clock.js';

const error = { name: 'Error', message: 'boom' };

function setupPolicy(maxRestarts = 2, withinMs = 10_000, backoff = fixed({ delayMs: 1_000 })) {
  const clock = new TestClock();
  const actor = createActor(restartPolicyMachine, {
    clock,
    input: { childId: 'worker', maxRestarts, withinMs, backoff },
  });
  const emitted: RestartPolicyEmitted[] = [];
  actor.on('*', (e) => emitted.push(e));
  actor.start();
  const fail = () => actor.send({ type: 'child.failed', at: clock.now(), error });
  return { actor, clock, emitted, fail, state: () => actor.getSnapshot().value };
}

describe('restart-policy machine', () => {
  it('waits out the backoff before asking for a restart', () => {
    const { clock, emitted, fail, state } = setupPolicy();
    fail();
    expect(state()).toBe('backingOff');
    clock.advance(999);
    expect(emitted).toEqual([]);
    clock.advance(1);
    expect(state()).toBe('running');
    expect(emitted).toEqual([{ type: 'supervisor.restart', childId: 'worker', restarts: 1 }]);
  });

  it('grows the delay with the failures in the window (exponential backoff from input)', () => {
    const { clock, emitted, fail } = setupPolicy(
      5,
      60_000,
      exponential({ initialMs: 100, factor: 2, maxMs: 10_000, jitter: 'none' }),
    );
    const delays: number[] = [];
    for (let i = 0; i < 4; i++) {
      fail();
      const before = emitted.length;
      let waited = 0;
      while (emitted.length === before) {
        clock.advance(10);
        waited += 10;
      }
      delays.push(waited);
    }
    expect(delays).toEqual([100, 200, 400, 800]);
  });

  it('gives up after more than maxRestarts failures within withinMs', () => {
    const { clock, emitted, fail, state, actor } = setupPolicy(2, 10_000);
    for (let i = 0; i < 2; i++) {
      fail();
      clock.advance(1_000);
    }
    expect(state()).toBe('running');
    fail();
    expect(state()).toBe('failed');
    expect(emitted.at(-1)).toEqual({ type: 'supervisor.gaveUp', childId: 'worker', failures: 3, error });
    expect(actor.getSnapshot().context.restarts).toBe(2);
    clock.advance(60_000);
    expect(state()).toBe('failed');
  });

  it('forgets failures older than the window', () => {
    const { clock, fail, state } = setupPolicy(2, 10_000);
    for (let i = 0; i < 10; i++) {
      fail();
      clock.advance(6_000);
      expect(state()).toBe('running');
    }
  });

  it('reset restarts a failed child with its failures forgotten', () => {
    const { emitted, fail, state, actor } = setupPolicy(0);
    fail();
    expect(state()).toBe('failed');
    actor.send({ type: 'reset' });
    expect(state()).toBe('running');
    expect(emitted.at(-1)).toMatchObject({ type: 'supervisor.restart', restarts: 1 });
    expect(actor.getSnapshot().context.failures).toEqual([]);
  });

  it('stop ends supervision in any state', () => {
    const { actor, fail } = setupPolicy();
    fail();
    actor.send({ type: 'stop' });
    expect(actor.getSnapshot().status).toBe('done');
  });
});
