import { describe, expect, it } from 'vitest';
import { fixed, linear } from '../../src/retry/backoff.js';
import type { Job } from '../../src/queue/types.js';
import { deadLetterGroup } from '../../src/queue/dead-letter.js';
import { deferred, Gate, poll, releaseInRounds, until } from '../support/wait.js';
import { useRuntimes } from '../support/runtime.js';
import { transportCases } from '../support/transports.js';

describe.each(transportCases)('job queue on $name', (c) => {
  const { runtime } = useRuntimes(c);

  it('takes every waiting higher-priority job before a lower one', async () => {
    const rt = await runtime();
    const q = rt.queue<number>('prio', { concurrency: 1 });
    await q.ready();
    const levels = ['low', 'normal', 'high', 'critical'] as const;
    for (let i = 0; i < 3; i++) for (const priority of levels) await q.add(priority, i, { priority });
    const order: string[] = [];
    q.process((job) => void order.push(job.name));
    await until(() => order.length === 12, 'twelve jobs');
    expect(order).toEqual([
      ...Array(3).fill('critical'),
      ...Array(3).fill('high'),
      ...Array(3).fill('normal'),
      ...Array(3).fill('low'),
    ]);
  });

  it('counts as active only the jobs a worker started, not those it fetched ahead', async () => {
    const rt = await runtime();
    const q = rt.queue<number>('counted-active', { concurrency: 2 });
    const gate = deferred();
    let started = 0;
    q.process(async () => {
      started++;
      await gate.promise;
    });
    await q.ready();
    await q.addBulk(Array.from({ length: 40 }, (_, data) => ({ name: 'j', data })));
    await until(() => started === 2, 'two jobs started');
    // Whatever the worker fetched ahead has arrived by now (a pull answers in well under this).
    await new Promise((r) => setTimeout(r, 300));
    expect(await q.counts()).toMatchObject({ active: 2, waiting: 38 });
    gate.resolve();
    await poll(
      () => q.counts(),
      (n) => n.completed === 40,
      'every job completed',
    );
  });

  it('honours delayMs: never early, late by at most the documented granularity', async () => {
    const rt = await runtime();
    const q = rt.queue('delay', { concurrency: 2 });
    const ran = new Map<string, number>();
    q.process((job) => void ran.set(job.name, performance.now()));
    await q.ready();
    const t0 = performance.now();
    await q.add('later', null, { delayMs: 400 });
    await q.add('now', null);
    expect((await q.getJob((await q.add('probe', null, { delayMs: 5_000 })).id))?.state).toBe('delayed');
    await until(() => ran.has('later'), 'the delayed job');
    const late = ran.get('later')! - t0;
    expect(late).toBeGreaterThanOrEqual(400);
    expect(late).toBeLessThan(400 + 250);
    expect(ran.get('now')! - t0).toBeLessThan(400);
  });

  it('retries a failing job after each configured delay, then completes', async () => {
    const rt = await runtime();
    const q = rt.queue('retry', {
      maxAttempts: 4,
      backoff: linear({ initialMs: 150, stepMs: 150, jitter: 'none' }),
    });
    const tries: { attempt: number; at: number }[] = [];
    const failed: number[] = [];
    q.on('failed', (j) => failed.push(j.attempts));
    q.process((job) => {
      tries.push({ attempt: job.attempt, at: performance.now() });
      if (job.attempt < 3) throw new Error(`fail ${job.attempt}`);
      return 'ok';
    });
    const { id } = await q.add('flaky', { n: 1 });
    await until(() => tries.length === 3, 'three tries');
    expect(tries.map((t) => t.attempt)).toEqual([1, 2, 3]);
    expect(failed).toEqual([1, 2]);
    const gaps = [tries[1]!.at - tries[0]!.at, tries[2]!.at - tries[1]!.at];
    expect(gaps[0]).toBeGreaterThanOrEqual(148);
    expect(gaps[1]).toBeGreaterThanOrEqual(298);
    expect(gaps[0]).toBeLessThan(150 + 300);
    expect(gaps[1]).toBeLessThan(300 + 300);
    const job = await poll(
      () => q.getJob(id),
      (j) => j?.state === 'completed',
      'completed job',
    );
    expect(job).toMatchObject({ state: 'completed', attempts: 3, result: 'ok', data: { n: 1 } });
  });

  it('is dead after maxAttempts, with its error in the dead-letter store', async () => {
    const rt = await runtime();
    const q = rt.queue('doomed', { maxAttempts: 5, backoff: fixed({ delayMs: 10 }) });
    const dead = deferred<number>();
    q.on('dead', (j) => dead.resolve(j.attempts));
    let calls = 0;
    q.process(() => {
      calls++;
      throw new TypeError('smtp down');
    });
    const { id } = await q.add('send', { to: 'ada' }, { maxAttempts: 3 });
    expect(await dead.promise).toBe(3);
    expect(calls).toBe(3);
    const dls = await poll(
      () => rt.deadLetters.list({ group: deadLetterGroup('doomed') }),
      (d) => d.length === 1,
      'dead letter',
    );
    expect(dls[0]).toMatchObject({
      reason: 'handler',
      attempts: 3,
      error: { name: 'TypeError', message: 'smtp down' },
    });
    expect(dls[0]!.event).toMatchObject({ id, type: 'send', data: { to: 'ada' } });
    const job = await poll(
      () => q.getJob(id),
      (j) => j?.state === 'dead',
      'dead job',
    );
    expect(job).toMatchObject({ attempts: 3, error: { message: 'smtp down' }, data: { to: 'ada' } });
    expect(
      await poll(
        () => q.counts(),
        (n) => n.dead === 1,
        'counts',
      ),
    ).toMatchObject({ dead: 1, completed: 0, active: 0 });
  });

  it('fails a try that runs past timeoutMs: its signal aborts, and the last one is dead', async () => {
    const rt = await runtime();
    const q = rt.queue('slow', { maxAttempts: 2, timeoutMs: 150, backoff: fixed({ delayMs: 10 }) });
    const aborted: number[] = [];
    const failed: string[] = [];
    const dead = deferred<string | undefined>();
    q.on('failed', (j) => failed.push(j.error?.name ?? ''));
    q.on('dead', (j) => dead.resolve(j.error?.name));
    q.process(async (job) => {
      await new Promise<void>((r) => job.signal.addEventListener('abort', () => r()));
      aborted.push(job.attempt);
      return 'too late';
    });
    const t0 = performance.now();
    const { id } = await q.add('stuck', null);
    expect(await dead.promise).toBe('TimeoutError');
    expect(performance.now() - t0).toBeGreaterThanOrEqual(2 * 150);
    expect(failed).toEqual(['TimeoutError']);
    await until(() => aborted.length === 2, 'both tries aborted');
    expect(aborted).toEqual([1, 2]);
    const dls = await poll(
      () => rt.deadLetters.list({ group: deadLetterGroup('slow') }),
      (d) => d.length === 1,
      'dead letter',
    );
    expect(dls[0]).toMatchObject({ reason: 'timeout', attempts: 2, event: { id } });
  });

  it('hands a handler its job: attempt, maxAttempts, priority, and a signal that stays quiet', async () => {
    const rt = await runtime();
    const q = rt.queue<{ n: number }>('view', { maxAttempts: 4 });
    const seen = deferred<Job<{ n: number }>>();
    let aborted: boolean | undefined;
    q.process((job) => {
      aborted = job.signal.aborted;
      seen.resolve(job);
    });
    const { id } = await q.add('look', { n: 7 }, { priority: 'high', maxAttempts: 2 });
    const job = await seen.promise;
    expect(job).toMatchObject({
      id,
      name: 'look',
      data: { n: 7 },
      attempt: 1,
      maxAttempts: 2,
      priority: 'high',
    });
    expect(aborted).toBe(false);
  });

  it('deduplicates by jobId', async () => {
    const rt = await runtime();
    const q = rt.queue('dedup');
    const a = await q.add('x', 1, { jobId: 'order-42' });
    const b = await q.add('x', 2, { jobId: 'order-42' });
    expect(a).toEqual({ id: 'order-42' });
    expect(b).toEqual({ id: 'order-42', duplicate: true });
    const seen: unknown[] = [];
    q.process((job) => void seen.push(job.data));
    await until(() => seen.length === 1, 'the job');
    // Once the store holds nothing waiting, delayed or active, no second copy is left to run.
    const counts = await poll(
      () => q.counts(),
      (n) => n.completed >= 1 && n.waiting + n.delayed + n.active === 0,
      'every job settled',
    );
    expect(seen).toEqual([1]);
    expect(counts.completed).toBe(1);
    expect(counts.waiting).toBe(0);
  });

  it('never runs more than `concurrency` jobs at once', async () => {
    const rt = await runtime();
    const q = rt.queue('conc', { concurrency: 4 });
    let running = 0;
    let peak = 0;
    let done = 0;
    const gate = new Gate();
    q.process(async () => {
      peak = Math.max(peak, ++running);
      await gate.pass();
      running--;
      done++;
    });
    await q.addBulk(Array.from({ length: 60 }, (_, i) => ({ name: 'j', data: i })));
    await releaseInRounds(gate, 60, 4);
    await until(() => done === 60, 'sixty jobs');
    expect(peak).toBe(4);
  });

  it('shares a queue between two workers, each job completed exactly once', async () => {
    const [a, b] = [await runtime('a'), await runtime('b')];
    const counts = new Map<number, number>();
    const by = { a: 0, b: 0 };
    // Each worker's first jobs wait until the other has one too: a busy worker leaves the rest to its peer.
    const bothWorking = deferred();
    const handler = (who: 'a' | 'b') => async (job: Job<number>) => {
      by[who]++;
      counts.set(job.data, (counts.get(job.data) ?? 0) + 1);
      if (by.a > 0 && by.b > 0) bothWorking.resolve();
      await bothWorking.promise;
    };
    const qa = a.queue<number>('shared', { concurrency: 3 });
    const qb = b.queue<number>('shared', { concurrency: 3 });
    qa.process(handler('a'));
    qb.process(handler('b'));
    await Promise.all([qa.ready(), qb.ready()]);
    await qa.addBulk(Array.from({ length: 200 }, (_, i) => ({ name: 'j', data: i })));
    await until(() => counts.size === 200, 'all jobs', 20_000);
    // Once every job is completed and none is active, no second copy is left to run.
    expect(
      await poll(
        () => qb.counts(),
        (n) => n.completed === 200 && n.active === 0,
        'counts',
      ),
    ).toMatchObject({ waiting: 0, active: 0 });
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
    expect(by.a).toBeGreaterThan(0);
    expect(by.b).toBeGreaterThan(0);
  });

  it('close() waits for active jobs, hands the rest back, and another worker finishes them', async () => {
    const [a, b] = [await runtime('a'), await runtime('b')];
    const qa = a.queue<number>('closing', { concurrency: 2, closeTimeoutMs: 300 });
    const started: number[] = [];
    const aborted: number[] = [];
    const closeCalled = deferred();
    qa.process(async (job) => {
      started.push(job.data);
      if (job.data === 0) return closeCalled.promise; // still running when close() starts; finishes within its timeout
      await new Promise<void>((r) => job.signal.addEventListener('abort', () => r())); // never on its own
      aborted.push(job.data);
      throw new Error('aborted');
    });
    await qa.addBulk([0, 1, 2, 3].map((i) => ({ name: 'j', data: i })));
    await until(() => started.length === 2, 'two active jobs');
    const closing = qa.close();
    expect(qa.close()).toBe(closing);
    closeCalled.resolve();
    await closing;
    expect(aborted).toEqual([1]);
    const done = new Set<number>();
    const qb = b.queue<number>('closing', { concurrency: 4 });
    qb.process((job) => void done.add(job.data));
    await until(() => done.size === 3, `the rest (got ${[...done].join()})`, 15_000).catch(async (e) => {
      console.log([...done], await qb.counts());
      throw e;
    });
    expect([...done].sort()).toEqual([1, 2, 3]);
    // A completion's done record and its ack go out together but land apart: wait for both.
    const counts = await poll(
      () => qb.counts(),
      (n) => n.completed === 4 && n.active === 0,
      'counts',
    );
    expect(counts).toMatchObject({ waiting: 0, active: 0, failed: 0, dead: 0 });
  });
});
