import { describe, expect, it } from 'vitest';
import { createActor, fromCallback } from 'xstate';
import {
  subscriberMachine,
  type ConsumerActorInput,
  type ConsumerCommand,
} from '../../src/machines/subscriber.machine.js';
import { fixed } from '../../src/retry/backoff.js';
import { TestClock } from '../support/clock.js';

function setupSubscriber(maxRestarts = 2, delayMs = 1_000) {
  const clock = new TestClock();
  const probe = { starts: 0, stops: 0, commands: [] as ConsumerCommand[] };
  const machine = subscriberMachine.provide({
    actors: {
      consumer: fromCallback<ConsumerCommand, ConsumerActorInput>(({ receive }) => {
        probe.starts++;
        receive((command) => probe.commands.push(command));
        return () => void probe.stops++;
      }),
    },
  });
  const actor = createActor(machine, {
    clock,
    input: { name: 'mailer/user.created', maxRestarts, restartBackoff: fixed({ delayMs }) },
  });
  actor.start();
  return { actor, clock, probe, state: () => actor.getSnapshot().value };
}

const failure = { type: 'consumer.failed', error: { name: 'Error', message: 'consumer deleted' } } as const;

describe('subscriber machine', () => {
  it('starts its consumer in running.starting', () => {
    const { state, probe } = setupSubscriber();
    expect(state()).toEqual({ running: 'starting' });
    expect(probe.starts).toBe(1);
  });

  it('starting -> consuming.idle when the consumer is ready', () => {
    const { actor, state } = setupSubscriber();
    actor.send({ type: 'consumer.ready' });
    expect(state()).toEqual({ running: { consuming: 'idle' } });
  });

  it('consuming: idle -> handling on work.started, back to idle on work.idle', () => {
    const { actor, state } = setupSubscriber();
    actor.send({ type: 'consumer.ready' });
    actor.send({ type: 'work.started' });
    expect(state()).toEqual({ running: { consuming: 'handling' } });
    actor.send({ type: 'work.started' });
    expect(state()).toEqual({ running: { consuming: 'handling' } });
    actor.send({ type: 'work.idle' });
    expect(state()).toEqual({ running: { consuming: 'idle' } });
  });

  it('stop -> draining, which tells the consumer to drain; drained -> stopped (final)', () => {
    const { actor, state, probe } = setupSubscriber();
    actor.send({ type: 'consumer.ready' });
    actor.send({ type: 'work.started' });
    actor.send({ type: 'stop' });
    expect(state()).toEqual({ running: 'draining' });
    expect(probe.commands).toEqual([{ type: 'drain' }]);
    actor.send({ type: 'stop' });
    expect(probe.commands).toHaveLength(1);
    actor.send({ type: 'consumer.drained' });
    expect(state()).toBe('stopped');
    expect(actor.getSnapshot().status).toBe('done');
    expect(probe.stops).toBe(1);
  });

  it('a consumer failure while draining still ends in stopped', () => {
    const { actor, state } = setupSubscriber();
    actor.send({ type: 'stop' });
    actor.send(failure);
    expect(state()).toBe('stopped');
  });

  it('consumer.failed -> backingOff, and after the restart delay (not before) it starts again', () => {
    const { actor, clock, state, probe } = setupSubscriber(2, 1_000);
    actor.send({ type: 'consumer.ready' });
    actor.send(failure);
    expect(state()).toBe('backingOff');
    expect(probe.stops).toBe(1);
    expect(actor.getSnapshot().context).toMatchObject({ failures: 1, lastError: failure.error });
    clock.advance(999);
    expect(state()).toBe('backingOff');
    clock.advance(1);
    expect(state()).toEqual({ running: 'starting' });
    expect(probe.starts).toBe(2);
  });

  it('becoming ready again resets the failure count', () => {
    const { actor, clock } = setupSubscriber(2, 10);
    actor.send(failure);
    clock.advance(10);
    actor.send({ type: 'consumer.ready' });
    expect(actor.getSnapshot().context.failures).toBe(0);
  });

  it('more than maxRestarts consecutive failures -> failed; stop from failed -> stopped', () => {
    const { actor, clock, state } = setupSubscriber(2, 10);
    actor.send(failure);
    clock.advance(10);
    actor.send(failure);
    clock.advance(10);
    expect(state()).toEqual({ running: 'starting' });
    actor.send(failure);
    expect(state()).toBe('failed');
    expect(actor.getSnapshot().context.failures).toBe(3);
    actor.send({ type: 'stop' });
    expect(state()).toBe('stopped');
  });

  it('stop while backing off -> stopped, and no restart happens later', () => {
    const { actor, clock, state, probe } = setupSubscriber(2, 100);
    actor.send(failure);
    actor.send({ type: 'stop' });
    expect(state()).toBe('stopped');
    clock.advance(1_000);
    expect(probe.starts).toBe(1);
  });

  it('is a plain statechart the inspector can draw: its definition names every state', () => {
    const json = JSON.stringify(subscriberMachine.toJSON());
    for (const s of [
      'starting',
      'consuming',
      'idle',
      'handling',
      'draining',
      'backingOff',
      'failed',
      'stopped',
    ]) {
      expect(json).toContain(`"key":"${s}"`);
    }
  });
});
