import { spawn, type ChildProcess } from 'node:child_process';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { schedulersBucket } from '../../src/queue/schedule.js';
import { useRuntimes } from '../support/runtime.js';
import { transportCase } from '../support/transports.js';
import { until } from '../support/wait.js';

const nats = transportCase('nats');
const EVERY_MS = 250;
const SLOTS = 20;

/** A scheduler worker in its own process, and what it printed so far. */
function spawnWorker(prefix: string, queue: string): { child: ChildProcess; out: () => string } {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'test/fixtures/scheduler-worker.ts', inject('natsUrl'), prefix, queue],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let out = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  return { child, out: () => out };
}

/** Job ids a worker printed as done. */
const doneIds = (out: string): string[] => [...out.matchAll(/^done (\S+)$/gm)].map((m) => m[1]!);

// Only JetStream spans processes.
describe('job schedulers on nats with two worker processes and a real clock', () => {
  let prefix: string | undefined;
  const children: ChildProcess[] = [];
  afterEach(async () => {
    for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
    if (!prefix) return;
    const nc = await connect({ servers: inject('natsUrl') });
    await (await jetstreamManager(nc)).streams.delete(`KV_${schedulersBucket(prefix)}`).catch(() => false);
    await nc.close();
    prefix = undefined;
  });
  const { runtime, bus } = useRuntimes(nats);

  it(`adds exactly one job per slot: every ${EVERY_MS} ms for ${SLOTS} slots`, async () => {
    prefix = bus().prefix;
    const workers = [spawnWorker(prefix, 'ticks'), spawnWorker(prefix, 'ticks')];
    children.push(...workers.map((w) => w.child));
    await until(() => workers.every((w) => w.out().includes('ready')), 'both workers', 20_000);

    // This queue object only defines and reads: it runs no scheduler, the two workers do.
    const admin = (await runtime('admin')).queue('ticks');
    const { nextSlot: first } = await admin.repeat('tick', null, { everyMs: EVERY_MS });
    const slotsDone = (): Set<string> => new Set(workers.flatMap((w) => doneIds(w.out())));
    await until(() => slotsDone().size >= SLOTS, `${SLOTS} slots`, 10_000);
    expect(await admin.unrepeat('tick')).toBe(true);
    for (const w of workers) w.child.kill('SIGTERM');
    await until(() => workers.every((w) => w.out().includes('closed')), 'both workers to close', 15_000);

    const all = workers.flatMap((w) => doneIds(w.out()));
    const slots = all.map((id) => Number(id.replace(/^repeat:tick:/, ''))).sort((a, b) => a - b);
    const expected = slots.map((_, i) => first! + i * EVERY_MS);
    expect(slots.slice(0, SLOTS)).toEqual(expected.slice(0, SLOTS)); // the first 20 slots, one job each
    expect(slots).toEqual(expected); // and no slot twice, none skipped, up to the unrepeat
    expect(slots.length).toBeLessThanOrEqual(SLOTS + 2);
    expect(workers.every((w) => doneIds(w.out()).length > 0)).toBe(true); // both took jobs
    expect((await admin.counts()).completed).toBe(slots.length);
  }, 40_000);
});
