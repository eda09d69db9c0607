import { spawn } from 'node:child_process';
import { describe, expect, inject, it } from 'vitest';
import { ValidationError } from '../../src/errors.js';
import { fixed } from '../../src/retry/backoff.js';
import type { Job } from '../../src/queue/types.js';
import { deferred, poll, until } from '../support/wait.js';
import { useRuntimes } from '../support/runtime.js';
import { transportCase, transportCases } from '../support/transports.js';

interface Step {
  readonly g: string;
  readonly n: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe.each(transportCases)('ordered groups on $name', (c) => {
  const { runtime } = useRuntimes(c);

  it('50 groups x 20 jobs: each group in add order, one at a time, groups in parallel', async () => {
    const [a, b] = [await runtime('a'), await runtime('b')];
    const seen = new Map<string, number[]>();
    const running = new Set<string>();
    let overlaps = 0;
    let parallel = 0;
    const handler = async (job: Job<Step>): Promise<void> => {
      const { g, n } = job.data;
      if (running.has(g)) overlaps++;
      running.add(g);
      parallel = Math.max(parallel, running.size);
      await sleep(5);
      running.delete(g);
      seen.set(g, [...(seen.get(g) ?? []), n]);
    };
    const qa = a.queue<Step>('ordered', { concurrency: 10 });
    const qb = b.queue<Step>('ordered', { concurrency: 10 });
    qa.process(handler);
    qb.process(handler);
    await Promise.all([qa.ready(), qb.ready()]);
    const jobs: { name: string; data: Step; opts: { group: string } }[] = [];
    for (let n = 0; n < 20; n++)
      for (let i = 0; i < 50; i++)
        jobs.push({ name: 'j', data: { g: `g${i}`, n }, opts: { group: `g${i}` } });
    const began = Date.now();
    await qa.addBulk(jobs);
    const total = (): number => [...seen.values()].reduce((s, l) => s + l.length, 0);
    await until(() => total() === 1_000, 'every job', 30_000);
    const wall = Date.now() - began;

    const inOrder = Array.from({ length: 20 }, (_, n) => n);
    for (let i = 0; i < 50; i++) expect(seen.get(`g${i}`)).toEqual(inOrder);
    expect(overlaps).toBe(0);
    expect(parallel).toBeGreaterThanOrEqual(5);
    // Run one at a time, 1,000 jobs of 5 ms take at least 5 s: a shorter wall time shows the groups
    // ran in parallel (by a wide margin on a quiet machine, less beside other test files).
    const serial = 1_000 * 5;
    expect(wall).toBeLessThan(serial);
  }, 40_000);

  it('counts jobs waiting in their groups as waiting, before and while a worker runs them', async () => {
    const rt = await runtime();
    const q = rt.queue<Step>('ordered-counts', { concurrency: 4 });
    const jobs = Array.from({ length: 50 }, (_, i) => ({
      name: 'step',
      data: { g: `g${i % 5}`, n: i },
      opts: { group: `g${i % 5}` },
    }));
    await q.addBulk(jobs);
    expect(await q.counts()).toMatchObject({ waiting: 50, active: 0, completed: 0 });
    const gate = deferred();
    let started = 0;
    q.process(async () => {
      started++;
      await gate.promise;
    });
    await until(() => started === 4, 'a job of four groups running');
    // Four groups' heads run; every other job waits, in its group or as a job. (On NATS a head
    // fetched ahead by the worker counts as active, and a group between two heads may count one
    // short while its driver moves on.)
    const running = await q.counts();
    expect(running.active).toBeGreaterThanOrEqual(4);
    expect(running.active).toBeLessThanOrEqual(5);
    expect(running.waiting + running.active).toBeGreaterThanOrEqual(49);
    expect(running.waiting + running.active).toBeLessThanOrEqual(50);
    gate.resolve();
    // The server hears a job's ack after its `done` record: the counts settle once it has.
    const done = await poll(
      () => q.counts(),
      (n) => n.completed === 50 && n.active === 0,
      'every job completed and acked',
      20_000,
    );
    expect(done).toMatchObject({ waiting: 0, active: 0, completed: 50 });
  });

  it('a failing job blocks its group through its retries until it completes', async () => {
    const rt = await runtime();
    const events: string[] = [];
    let failures = 0;
    const q = rt.queue<number>('blocking', { concurrency: 4, backoff: fixed({ delayMs: 150 }) });
    q.process(async (job) => {
      events.push(`start ${job.data}`);
      if (job.data === 0 && failures++ < 2) throw new Error('not yet');
      events.push(`done ${job.data}`);
    });
    await q.ready();
    await q.addBulk([0, 1, 2].map((data) => ({ name: 'j', data, opts: { group: 'customer-42' } })));
    await q.add('free', 9);
    await until(() => events.includes('done 2'), 'the group to finish', 15_000);
    expect(events.filter((e) => !e.endsWith(' 9'))).toEqual([
      'start 0',
      'start 0',
      'start 0',
      'done 0',
      'start 1',
      'done 1',
      'start 2',
      'done 2',
    ]);
    // The ungrouped job did not wait for the group.
    expect(events.indexOf('done 9')).toBeLessThan(events.indexOf('done 0'));
  }, 20_000);

  it('a worker closed mid-group hands the group on; another worker goes on in order', async () => {
    const [a, b] = [await runtime('a'), await runtime('b')];
    const ran: string[] = [];
    let release: (() => void) | undefined;
    const qa = a.queue<number>('handed-on', { concurrency: 2, closeTimeoutMs: 50 });
    qa.process(async (job) => {
      ran.push(`a${job.data}`);
      if (job.data === 2) await new Promise<void>((r) => (release = r));
    });
    await qa.ready();
    await qa.addBulk([0, 1, 2, 3, 4].map((data) => ({ name: 'j', data, opts: { group: 'g' } })));
    await until(() => ran.includes('a2'), 'worker a to start job 2');
    const closing = qa.close();
    const qb = b.queue<number>('handed-on', { concurrency: 2 });
    qb.process((job) => void ran.push(`b${job.data}`));
    await closing;
    release?.();
    await until(() => ran.includes('b4'), 'worker b to finish the group', 15_000);
    expect(ran).toEqual(['a0', 'a1', 'a2', 'b2', 'b3', 'b4']);
  }, 20_000);

  it('a job removed or cancelled while it waits in its group is skipped; getJob sees it waiting', async () => {
    const rt = await runtime();
    const q = rt.queue<number>('skipping', { concurrency: 2 });
    const ran: number[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    q.process(async (job) => {
      ran.push(job.data);
      if (job.data === 0) await gate;
    });
    await q.ready();
    const ids = (
      await q.addBulk([0, 1, 2, 3].map((data) => ({ name: 'j', data, opts: { group: 'g' } })))
    ).map((j) => j.id);
    await until(() => ran.includes(0), 'the head to start');
    expect((await q.getJob(ids[2]!))?.state).toBe('waiting');
    expect(await q.remove(ids[1]!)).toBe(true);
    expect(await q.cancel(ids[2]!)).toBe(true);
    expect(await q.getJob(ids[1]!)).toBeUndefined();
    release();
    await until(() => ran.includes(3), 'the rest of the group', 10_000);
    expect(ran).toEqual([0, 3]);
    expect((await q.getJob(ids[2]!))?.state).toBe('cancelled');
  });

  it('rejects a bad group', async () => {
    const rt = await runtime();
    const q = rt.queue('bad-groups');
    await expect(q.add('j', 1, { group: '' })).rejects.toThrow(ValidationError);
    await expect(q.add('j', 1, { group: 'x'.repeat(257) })).rejects.toThrow(ValidationError);
  });

  it('a group head held back by a per-key limiter stays its group head and runs in order once its slot comes', async () => {
    const rt = await runtime();
    const q = rt.queue<{ t: string; n: number }>('limited-groups', {
      concurrency: 2,
      limiter: { max: 1, durationMs: 400, groupKey: 't' },
    });
    const ran: number[] = [];
    q.process((job) => void ran.push(job.data.n));
    await q.ready();
    await q.addBulk([0, 1, 2].map((n) => ({ name: 'j', data: { t: 'tenant', n }, opts: { group: 'g' } })));
    await until(() => ran.length === 3, 'the group past its limiter', 10_000);
    expect(ran).toEqual([0, 1, 2]);
  });

  it('a delayed job of a group blocks nothing while it waits, and joins the end of its group once due', async () => {
    const rt = await runtime();
    const q = rt.queue<string>('delayed-groups', { concurrency: 4 });
    const log: string[] = [];
    const started = new Map<string, number>();
    let running = 0;
    let overlapped = false;
    const gate = deferred();
    q.process(async (job) => {
      if (++running > 1) overlapped = true;
      started.set(job.data, Date.now());
      log.push(`start ${job.data}`);
      if (job.data === 'a') await gate.promise;
      await sleep(20);
      log.push(`end ${job.data}`);
      running--;
    });
    await q.ready();
    const t0 = Date.now();
    await q.add('j', 'a', { group: 'g' });
    const { id: later } = await q.add('j', 'late', { group: 'g', delayMs: 600 });
    const { id: dropped } = await q.add('j', 'dropped', { group: 'g', delayMs: 300 });
    await q.add('j', 'b', { group: 'g' });
    expect(await q.getJob(later)).toMatchObject({ state: 'delayed' });
    expect((await q.counts()).delayed).toBe(2);
    expect(await q.cancel(dropped)).toBe(true);
    gate.resolve();
    await until(() => log.includes('end b'), 'the jobs added without a delay');
    await until(() => log.includes('end late'), 'the delayed job', 10_000);
    // a and b ran in add order without waiting for the delayed ones; late joined after b.
    expect(log).toEqual(['start a', 'end a', 'start b', 'end b', 'start late', 'end late']);
    expect(started.get('late')! - t0).toBeGreaterThanOrEqual(600);
    expect(overlapped).toBe(false);
    expect(await q.getJob(dropped)).toMatchObject({ state: 'cancelled' });
  });
});

// Only JetStream spans processes.
describe('ordered groups on nats: a worker killed mid-group', () => {
  const { runtime, bus } = useRuntimes(transportCase('nats'));

  it('another worker takes the group over after the ack wait and goes on in order', async () => {
    const rt = await runtime('survivor');
    const q = rt.queue<number>('crash-group', { concurrency: 4, ackWaitMs: 1_500 });
    await q.ready();
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        'test/fixtures/group-worker.ts',
        inject('natsUrl'),
        bus().prefix,
        'crash-group',
        '2',
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    const exited = new Promise((r) => child.once('exit', r));
    try {
      await until(() => out.includes('ready'), 'the child worker', 20_000);
      await q.addBulk([0, 1, 2, 3, 4, 5].map((data) => ({ name: 'j', data, opts: { group: 'g' } })));
      await until(() => out.includes('started 2'), 'the child to reach job 2', 20_000);
    } finally {
      child.kill('SIGKILL');
    }
    await exited;
    const ran: number[] = [];
    q.process((job) => void ran.push(job.data));
    await until(() => ran.length === 4, 'the survivor to finish the group', 20_000);
    expect(out.match(/started \d/g)).toEqual(['started 0', 'started 1', 'started 2']);
    expect(ran).toEqual([2, 3, 4, 5]);
  }, 40_000);
});
