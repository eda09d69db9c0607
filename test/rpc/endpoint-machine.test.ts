import { describe, expect, it } from 'vitest';
import { createActor, fromCallback } from 'xstate';
import {
  endpointMachine,
  type ServerActorInput,
  type ServerCommand,
} from '../../src/machines/endpoint.machine.js';

function setupEndpoint() {
  const probe = { starts: 0, stops: 0, commands: [] as ServerCommand[] };
  const machine = endpointMachine.provide({
    actors: {
      server: fromCallback<ServerCommand, ServerActorInput>(({ receive }) => {
        probe.starts++;
        receive((command) => probe.commands.push(command));
        return () => void probe.stops++;
      }),
    },
  });
  const actor = createActor(machine, { input: { name: 'orders.get' } }).start();
  return { actor, probe, state: () => actor.getSnapshot().value };
}

const failure = { type: 'server.failed', error: { name: 'Error', message: 'subscription closed' } } as const;

describe('endpoint machine', () => {
  it('starts its server, serves once it is ready', () => {
    const { actor, probe, state } = setupEndpoint();
    expect(state()).toEqual({ running: 'starting' });
    expect(probe.starts).toBe(1);
    actor.send({ type: 'server.ready' });
    expect(state()).toEqual({ running: 'serving' });
  });

  it('stop drains: the server is told to drain, and the machine stops once it has', () => {
    const { actor, probe, state } = setupEndpoint();
    actor.send({ type: 'server.ready' });
    actor.send({ type: 'stop' });
    expect(state()).toEqual({ running: 'draining' });
    expect(probe.commands).toEqual([{ type: 'drain' }]);
    actor.send({ type: 'stop' });
    expect(state()).toEqual({ running: 'draining' });
    actor.send({ type: 'server.drained' });
    expect(state()).toBe('stopped');
    expect(actor.getSnapshot().status).toBe('done');
    expect(probe.stops).toBe(1);
  });

  it('fails when serving fails, keeps the error, and stops on stop', () => {
    const { actor, probe, state } = setupEndpoint();
    actor.send({ type: 'server.ready' });
    actor.send(failure);
    expect(state()).toBe('failed');
    expect(actor.getSnapshot().context.lastError).toEqual(failure.error);
    expect(probe.stops).toBe(1);
    actor.send({ type: 'stop' });
    expect(state()).toBe('stopped');
  });

  it('a failure while starting fails too; one while draining ends the drain', () => {
    const a = setupEndpoint();
    a.actor.send(failure);
    expect(a.state()).toBe('failed');
    const b = setupEndpoint();
    b.actor.send({ type: 'stop' });
    b.actor.send(failure);
    expect(b.state()).toBe('stopped');
  });
});
