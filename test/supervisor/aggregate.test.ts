import { describe, expect, it } from 'vitest';
import { createActor, setup, type InspectionEvent } from 'xstate';
import { spawnSupervised } from '../../src/actors/supervisor/hosted-actor.js';
import { Supervisor } from '../../src/actors/supervisor/supervisor.js';
import { supervisorMachine } from '../../src/machines/supervisor.machine.js';
import { testLogger } from '../support/events.js';
import { TestClock } from '../support/clock.js';

const idle = setup({}).createMachine({
  id: 'idle',
  initial: 'up',
  states: { up: { on: { boom: 'failed' } }, failed: {} },
});

describe('supervisor machine', () => {
  it('applies a batch of reports, the latest per child, to the counts, the problems and the aggregate', () => {
    const actor = createActor(supervisorMachine).start();
    actor.send({
      type: 'children.reported',
      reports: [
        ['a', { kind: 'actor', status: 'HEALTHY' }],
        ['b', { kind: 'breaker', status: 'DEGRADED', state: 'OPEN' }],
        ['c', { kind: 'actor', status: 'HEALTHY' }],
      ],
    });
    expect(actor.getSnapshot().value).toBe('DEGRADED');
    expect(actor.getSnapshot().context.counts).toEqual({ HEALTHY: 2, DEGRADED: 1, UNHEALTHY: 0, UNKNOWN: 0 });
    expect(Object.keys(actor.getSnapshot().context.problems)).toEqual(['b']);

    actor.send({
      type: 'children.reported',
      reports: [
        ['b', { kind: 'breaker', status: 'HEALTHY', state: 'CLOSED' }],
        ['c', undefined],
      ],
    });
    expect(actor.getSnapshot().value).toBe('HEALTHY');
    expect(actor.getSnapshot().context.counts).toEqual({ HEALTHY: 2, DEGRADED: 0, UNHEALTHY: 0, UNKNOWN: 0 });
    expect(actor.getSnapshot().context.problems).toEqual({});
    expect([...actor.getSnapshot().context.children.keys()].sort()).toEqual(['a', 'b']);
  });
});

describe('supervisor reports', () => {
  function setupSupervisor() {
    const events: string[] = [];
    const inspect = (e: InspectionEvent) => {
      if (e.type === '@xstate.event' && (e.actorRef as { id?: string }).id === 'supervisor')
        events.push(e.event.type);
    };
    const supervisor = new Supervisor({ clock: new TestClock(), logger: testLogger, inspect });
    return { supervisor, events };
  }

  it('sends the reports of one turn as one event, and a read in that turn already sees them', async () => {
    const { supervisor, events } = setupSupervisor();
    const actors = Array.from({ length: 500 }, (_, i) => spawnSupervised(supervisor, idle, { id: `a${i}` }));
    // Read in the same turn: the pending reports are sent first.
    expect(supervisor.getSnapshot().context.counts.HEALTHY).toBe(500);
    expect(supervisor.getSnapshot().value).toBe('HEALTHY');
    await Promise.resolve();
    expect(events.filter((t) => t.startsWith('child'))).toEqual(['children.reported']);

    events.length = 0;
    await Promise.all(actors.slice(1).map((a) => a.stop()));
    await Promise.resolve();
    expect(events.filter((t) => t.startsWith('child'))).toEqual(['children.reported']);
    expect(supervisor.getSnapshot().context.children.size).toBe(1);
  });

  it('sends a lone report as child.reported, and keeps reports before an override in order', async () => {
    const { supervisor, events } = setupSupervisor();
    supervisor.reportHealth('check:db', { kind: 'check', status: 'UNHEALTHY', message: 'down' });
    await Promise.resolve();
    expect(events).toContain('child.reported');
    expect(supervisor.getSnapshot().value).toBe('UNHEALTHY');

    events.length = 0;
    supervisor.reportHealth('check:db', { kind: 'check', status: 'HEALTHY' });
    supervisor.send({ type: 'override.set', status: 'DEGRADED' });
    expect(events).toEqual(['child.reported', 'override.set']);
    expect(supervisor.getSnapshot().value).toBe('DEGRADED');
    supervisor.send({ type: 'override.set', status: undefined });
    expect(supervisor.getSnapshot().value).toBe('HEALTHY');
  });
});
