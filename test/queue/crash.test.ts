import { spawn } from 'node:child_process';
import { describe, expect, inject, it } from 'vitest';
import { until } from '../support/wait.js';
import { useRuntimes } from '../support/runtime.js';
import { transportCase } from '../support/transports.js';

const nats = transportCase('nats');

// Only JetStream spans processes; the memory queue lives and dies with its process.
describe('job queue on nats: a worker killed mid-job', () => {
  const { runtime, bus } = useRuntimes(nats);

  it('has its jobs finished by another worker after the ack wait', async () => {
    const rt = await runtime('survivor');
    const q = rt.queue<number>('crashy', { concurrency: 4, ackWaitMs: 1_500 });
    await q.ready();
    await q.addBulk([0, 1].map((i) => ({ name: 'j', data: i })));
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'test/fixtures/queue-worker.ts', inject('natsUrl'), bus().prefix, 'crashy'],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    const exited = new Promise((r) => child.once('exit', r));
    try {
      await until(() => (out.match(/started/g) ?? []).length === 2, 'the child to start both jobs', 20_000);
    } finally {
      child.kill('SIGKILL');
    }
    await exited;
    const done = new Map<number, number>();
    const killedAt = performance.now();
    q.process((job) => void done.set(job.data, job.attempt));
    await until(() => done.size === 2, 'the survivor to finish both jobs', 15_000);
    expect(performance.now() - killedAt).toBeGreaterThan(500);
    expect([...done.keys()].sort()).toEqual([0, 1]);
  });
});
