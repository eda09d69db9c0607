import { describe, expect, it } from 'vitest';
import { assign, fromCallback, setup } from 'xstate';
import { GROUP_SIZE } from '../../src/actors/groups/actor-group.js';
import { spawnSupervised } from '../../src/actors/supervisor/hosted-actor.js';
import { Supervisor } from '../../src/actors/supervisor/supervisor.js';
import type { SupervisorNotice } from '../../src/actors/supervisor/types.js';
import { isValidationError } from '../../src/errors.js';
import { fixed } from '../../src/retry/backoff.js';
import { testLogger } from '../support/events.js';
import { TestClock } from '../support/clock.js';

/** A worker that counts pings, throws on `boom`, and finishes on `finish`. */
const worker = setup({
  types: { context: {} as { pings: number; name: string }, input: {} as { name: string } },
  actions: {
    explode: () => {
      throw new Error('boom');
    },
  },
}).createMachine({
  id: 'worker',
  context: ({ input }) => ({ pings: 0, name: input.name }),
  initial: 'idle',
  states: {
    idle: {
      on: {
        ping: { actions: assign({ pings: ({ context }) => context.pings + 1 }) },
        boom: { actions: 'explode' },
        finish: 'finished',
      },
    },
    finished: { type: 'final' },
  },
});

/** Wakes up after `wakeAfterMs` (a delayed transition on the supervisor's clock). */
const sleeper = setup({
  types: { context: {} as { wakeAfterMs: number }, input: {} as { wakeAfterMs: number } },
  delays: { wake: ({ context }) => context.wakeAfterMs },
}).createMachine({
  id: 'sleeper',
  context: ({ input }) => input,
  initial: 'asleep',
  states: { asleep: { after: { wake: 'awake' } }, awake: {} },
});

function setupSupervisor() {
  const clock = new TestClock();
  const supervisor = new Supervisor({ clock, logger: testLogger });
  const notices: SupervisorNotice[] = [];
  supervisor.onNotice((n) => notices.push(n));
  return { clock, supervisor, notices };
}

describe('supervisor host', () => {
  it('restarts a failed actor after the backoff with a fresh incarnation and the same input', () => {
    const { clock, supervisor, notices } = setupSupervisor();
    const child = spawnSupervised(supervisor, worker, {
      id: 'w1',
      input: { name: 'ada' },
      restart: { maxRestarts: 3, withinMs: 60_000, backoff: fixed({ delayMs: 500 }) },
    });
    child.send({ type: 'ping' });
    const first = child.ref;
    child.send({ type: 'boom' });
    expect(child.status()).toBe('restarting');
    expect(supervisor.report()['w1']).toMatchObject({ status: 'restarting', restarts: 0 });
    clock.advance(499);
    expect(child.ref).toBe(first);
    clock.advance(1);
    expect(child.ref).not.toBe(first);
    expect(child.status()).toBe('running');
    expect(child.getSnapshot().context).toEqual({ pings: 0, name: 'ada' });
    expect(supervisor.report()['w1']).toMatchObject({ status: 'running', restarts: 1, state: 'idle' });
    expect(notices).toEqual([{ type: 'restarted', id: 'w1', kind: 'machine', restarts: 1 }]);
  });

  it('marks the actor failed after more than maxRestarts failures within withinMs', () => {
    const { clock, supervisor, notices } = setupSupervisor();
    const child = spawnSupervised(supervisor, worker, {
      id: 'w2',
      input: { name: 'x' },
      restart: { maxRestarts: 2, withinMs: 10_000, backoff: fixed({ delayMs: 100 }) },
    });
    for (let i = 0; i < 2; i++) {
      child.send({ type: 'boom' });
      clock.advance(100);
    }
    expect(child.restarts).toBe(2);
    child.send({ type: 'boom' });
    expect(child.status()).toBe('failed');
    clock.advance(60_000);
    expect(child.restarts).toBe(2);
    expect(supervisor.report()['w2']).toMatchObject({
      status: 'failed',
      restarts: 2,
      lastError: { message: 'boom' },
    });
    expect(notices.at(-1)).toMatchObject({ type: 'failed', id: 'w2', error: { message: 'boom' } });
    expect(supervisor.reset('w2')).toBe(true);
    expect(child.status()).toBe('running');
  });

  it('restart: false reports the failure and never restarts', () => {
    const { clock, supervisor } = setupSupervisor();
    const child = spawnSupervised(supervisor, worker, { id: 'w3', input: { name: 'x' }, restart: false });
    child.send({ type: 'boom' });
    clock.advance(60_000);
    expect(child.status()).toBe('failed');
    expect(child.restarts).toBe(0);
  });

  it('forgets an actor that reaches a final state, and one that is stopped', async () => {
    const { supervisor } = setupSupervisor();
    const a = spawnSupervised(supervisor, worker, { id: 'a', input: { name: 'a' } });
    const b = spawnSupervised(supervisor, worker, { id: 'b', input: { name: 'b' } });
    a.send({ type: 'finish' });
    expect(a.status()).toBe('done');
    await b.stop();
    await b.stop();
    expect(b.status()).toBe('stopped');
    expect(b.ref.getSnapshot().status).toBe('stopped');
    expect(supervisor.size).toBe(0);
  });

  it('refuses a second actor with the same id', () => {
    const { supervisor } = setupSupervisor();
    spawnSupervised(supervisor, worker, { id: 'dup', input: { name: 'a' } });
    let caught: unknown;
    try {
      spawnSupervised(supervisor, worker, { id: 'dup', input: { name: 'b' } });
    } catch (e) {
      caught = e;
    }
    expect(isValidationError(caught)).toBe(true);
  });

  it('stops a pending restart when the actor is stopped during its backoff', async () => {
    const { clock, supervisor } = setupSupervisor();
    const child = spawnSupervised(supervisor, worker, {
      id: 'w4',
      input: { name: 'x' },
      restart: { backoff: fixed({ delayMs: 100 }) },
    });
    const first = child.ref;
    child.send({ type: 'boom' });
    await child.stop();
    clock.advance(1_000);
    expect(child.ref).toBe(first);
    expect(child.status()).toBe('stopped');
  });

  it('hosts actors in groups of GROUP_SIZE that share a scheduler yet keep their own timers', async () => {
    const { clock, supervisor } = setupSupervisor();
    const n = GROUP_SIZE * 2 + 1;
    const actors = Array.from({ length: n }, (_, i) =>
      spawnSupervised(supervisor, sleeper, { id: `s${i}`, input: { wakeAfterMs: 1_000 + i } }),
    );
    const groups = new Set(actors.map((a) => a.ref._parent));
    expect(groups.size).toBe(3);
    expect(actors.filter((a) => a.ref._parent === actors[0]!.ref._parent)).toHaveLength(GROUP_SIZE);
    // Stopping a member cancels its own delayed transition, not its neighbours'.
    await actors[1]!.stop();
    clock.advance(1_000 + n);
    expect(actors[0]!.getSnapshot().value).toBe('awake');
    expect(actors[1]!.getSnapshot().status).toBe('stopped');
    expect(actors[2]!.getSnapshot().value).toBe('awake');
    expect(actors.at(-1)!.getSnapshot().value).toBe('awake');
    // A full group stops once its last member has left; the supervisor stops the open one.
    const first = actors[0]!.ref._parent!;
    await Promise.all(actors.slice(0, GROUP_SIZE).map((a) => a.stop()));
    expect(first.getSnapshot().status).toBe('stopped');
    const last = actors.at(-1)!.ref._parent!;
    await supervisor.stopAll();
    expect(last.getSnapshot().status).toBe('stopped');
    expect(supervisor.size).toBe(0);
  });

  it('supervises an actor whose machine fails while it starts', () => {
    const { clock, supervisor, notices } = setupSupervisor();
    let starts = 0;
    const fragile = setup({ types: { input: {} as { failFirst: number } } }).createMachine({
      id: 'fragile',
      context: ({ input }) => {
        if (++starts <= input.failFirst) throw new Error(`start ${starts} failed`);
        return {};
      },
      initial: 'up',
      states: { up: {} },
    });
    const child = spawnSupervised(supervisor, fragile, {
      id: 'fragile',
      input: { failFirst: 2 },
      restart: { backoff: fixed({ delayMs: 10 }) },
    });
    expect(child.status()).toBe('restarting');
    clock.advance(10);
    expect(child.status()).toBe('restarting');
    clock.advance(10);
    expect(child.status()).toBe('running');
    expect(child.getSnapshot().value).toBe('up');
    expect(notices.map((n) => n.type)).toEqual(['restarted', 'restarted']);
    expect(supervisor.report()['fragile']).toMatchObject({
      restarts: 2,
      lastError: { message: 'start 2 failed' },
    });
  });

  it('a failed incarnation stopped by a restart does not count against its successor', () => {
    const { clock, supervisor } = setupSupervisor();
    const child = spawnSupervised(supervisor, worker, {
      id: 'w5',
      input: { name: 'x' },
      restart: { maxRestarts: 1, backoff: fixed({ delayMs: 10 }) },
    });
    child.send({ type: 'boom' });
    clock.advance(10);
    child.send({ type: 'ping' });
    clock.advance(60_000);
    expect(child.status()).toBe('running');
    expect(child.getSnapshot().context.pings).toBe(1);
  });

  it('gives a machine that names invoked actors (systemId) a system of its own', async () => {
    const { supervisor } = setupSupervisor();
    const withRegistry = setup({
      actors: { db: fromCallback(() => () => undefined) },
    }).createMachine({
      id: 'withRegistry',
      invoke: { src: 'db', systemId: 'db' },
      initial: 'up',
      states: { up: {} },
    });
    const a = spawnSupervised(supervisor, withRegistry, { id: 'r1' });
    const b = spawnSupervised(supervisor, withRegistry, { id: 'r2' });
    expect([a.status(), b.status()]).toEqual(['running', 'running']);
    expect(a.ref._parent).toBeUndefined();
    expect(a.ref.system.get('db')).toBeDefined();
    expect(a.ref.system.get('db')).not.toBe(b.ref.system.get('db'));
    await a.stop();
    expect(a.ref.getSnapshot().status).toBe('stopped');
    expect(b.ref.getSnapshot().status).toBe('active');
  });

  it('supervises an isolated actor the same way: restart, final state, stop', async () => {
    const { clock, supervisor } = setupSupervisor();
    const child = spawnSupervised(supervisor, worker, {
      id: 'iso',
      input: { name: 'x' },
      isolated: true,
      restart: { backoff: fixed({ delayMs: 10 }) },
    });
    expect(child.ref._parent).toBeUndefined();
    const first = child.ref;
    child.send({ type: 'boom' });
    expect(child.status()).toBe('restarting');
    clock.advance(10);
    expect(child.ref).not.toBe(first);
    expect(child.status()).toBe('running');
    child.send({ type: 'finish' });
    expect(child.status()).toBe('done');
    expect(supervisor.has('iso')).toBe(false);
    const other = spawnSupervised(supervisor, worker, { id: 'iso2', input: { name: 'y' }, isolated: true });
    await other.stop();
    expect(other.ref.getSnapshot().status).toBe('stopped');
    expect(supervisor.size).toBe(0);
  });

  it.each([false, true])('subscribe follows restarts (isolated: %s) and stops on unsubscribe', (isolated) => {
    const { clock, supervisor } = setupSupervisor();
    const child = spawnSupervised(supervisor, worker, {
      id: 'watched',
      input: { name: 'x' },
      isolated,
      restart: { backoff: fixed({ delayMs: 10 }) },
    });
    const pings: number[] = [];
    const sub = child.subscribe((snapshot) => pings.push(snapshot.context.pings));
    child.send({ type: 'ping' });
    child.send({ type: 'boom' }); // fails: the supervisor's, not the listener's (nothing unhandled)
    clock.advance(10);
    child.send({ type: 'ping' });
    expect(pings).toEqual([1, 0, 1]);
    sub.unsubscribe();
    child.send({ type: 'ping' });
    clock.advance(10);
    expect(pings).toEqual([1, 0, 1]);
    expect(child.getSnapshot().context.pings).toBe(2);
  });
});
