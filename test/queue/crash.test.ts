import { spawn } from 'node:child_process';
import { describe, expect, inject, it } from 'vitest';
import { poll, until } from '../support/wait.js';
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

describe('job queue on nats: a job whose handler blocks the event loop past the ack wait', () => {
  const { runtime } = useRuntimes(nats);

  it('runs once: the copy the server sends meanwhile is not run beside it', async () => {
    const rt = await runtime();
    const q = rt.queue<number>('blocking', { concurrency: 2, ackWaitMs: 500 });
    let runs = 0;
    let copies = 0;
    q.process(async () => {
      runs++;
      // No heartbeat can leave while the loop is blocked: the server sends the job again.
      const until = Date.now() + 1_200;
      while (Date.now() < until);
      // Still running as the copy arrives.
      await new Promise((r) => setTimeout(r, 500));
      return 'done';
    });
    q.on('completed', () => copies++);
    const { id } = await q.add('j', 1);
    await poll(
      () => q.getJob(id),
      (j) => j?.state === 'completed',
      'the job completed',
    );
    // Long enough for a copy taken beside it to run and finish.
    await new Promise((r) => setTimeout(r, 2_000));
    expect(runs).toBe(1);
    expect(copies).toBe(1);
  });
});
