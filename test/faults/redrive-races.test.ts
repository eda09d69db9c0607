import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { natsTransport } from '../../src/transport/nats/nats-transport.js';
import { user } from '../support/events.js';
import { useRuntimes, type TestRuntime } from '../support/runtime.js';
import { transportCase, transportCases } from '../support/transports.js';
import { poll, quiet } from '../support/wait.js';

// Findings: two redrives at once republished every letter (1,000 of 1,000 handled twice), and a
// redrive retried after a partial failure republished again what the first had put back.

/** A subscriber that fails until `fixed`, then counts how often each event id is handled. */
function flaky() {
  const state = { fixed: false, runs: new Map<string, number>() };
  const handler = (u: { id: string }) => {
    if (!state.fixed) throw new Error('down');
    state.runs.set(u.id, (state.runs.get(u.id) ?? 0) + 1);
  };
  return { state, handler };
}

/** Publishes `n` events that all die (the handler is down), then lets the handler work again. */
async function deadLettered(rt: TestRuntime, n: number): Promise<ReturnType<typeof flaky>['state']> {
  const { state, handler } = flaky();
  await rt.subscribe('user.created', handler, { maxAttempts: 1 }).ready;
  await rt.publishMany(
    Array.from({ length: n }, (_, i) => ({ type: 'user.created', payload: user(String(i)) })),
  );
  await poll(
    () => rt.deadLetters.count(),
    (k) => k === n,
    `${n} dead letters`,
    30_000,
  );
  state.fixed = true;
  return state;
}

describe.each(transportCases)('redrive races on $name', (c) => {
  const { runtime } = useRuntimes(c);

  it('two redrives at once put every dead letter back exactly once', async () => {
    const rt = await runtime();
    const n = 1_000;
    const state = await deadLettered(rt, n);
    const [a, b] = await Promise.all([rt.deadLetters.redrive(), rt.deadLetters.redrive()]);
    expect(a.redriven + b.redriven).toBe(n);
    await poll(
      async () => state.runs.size,
      (k) => k === n,
      'every event handled',
      30_000,
    );
    await quiet(500); // a duplicate would arrive meanwhile
    expect([...state.runs.values()].filter((k) => k !== 1)).toEqual([]);
    expect(await rt.deadLetters.count()).toBe(0);
  }, 60_000);
});

describe('redrive races on nats', () => {
  const { runtime, bus } = useRuntimes(transportCase('nats'));

  it('a redrive retried after its process died mid-way puts nothing back twice', async () => {
    const leaseMs = 1_500;
    const rt = await runtime('accounts', {
      transport: natsTransport({ servers: bus().url, prefix: bus().prefix, redriveLeaseMs: leaseMs }),
    });
    const n = 600;
    const state = await deadLettered(rt, n);
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'test/fixtures/redrive-worker.ts', bus().url, bus().prefix, String(leaseMs)],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const exited = new Promise((r) => child.once('exit', r));
    // Killed once it has put some back, in the middle of the rest.
    await poll(
      async () => state.runs.size,
      (k) => k >= 100,
      'the first redrive under way',
      30_000,
    );
    child.kill('SIGKILL');
    await exited;
    await quiet(leaseMs); // the dead process's claim goes stale
    await rt.deadLetters.redrive();
    await poll(
      async () => state.runs.size,
      (k) => k === n,
      'every event handled',
      30_000,
    );
    await quiet(500);
    expect([...state.runs.values()].filter((k) => k !== 1)).toEqual([]);
    expect(await rt.deadLetters.count()).toBe(0);
  }, 90_000);
});
