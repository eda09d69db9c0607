import { describe, expect, it } from 'vitest';
import type { Job } from '../../src/queue/types.js';
import { deferred, poll, until } from '../support/wait.js';
import { useRuntimes } from '../support/runtime.js';
import { transportCase, transportCases } from '../support/transports.js';
import { json, runCli } from '../cli/run-cli.js';

describe.each(transportCases)('queue pause and resume on $name', (c) => {
  const { runtime } = useRuntimes(c);

  it('pauses every worker of the queue in every instance: active jobs finish, none is taken; resume restarts', async () => {
    const [a, b, admin] = [await runtime('a'), await runtime('b'), await runtime('admin')];
    const gate = deferred();
    const ran: string[] = [];
    const handler = (who: string) => async (job: Job<number>) => {
      ran.push(`${who}:${job.data}`);
      if (job.data === 0) await gate.promise;
    };
    const qa = a.queue<number>('pausable', { concurrency: 2 });
    const qb = b.queue<number>('pausable', { concurrency: 2 });
    const q = admin.queue<number>('pausable');
    qa.process(handler('a'));
    qb.process(handler('b'));
    await Promise.all([qa.ready(), qb.ready()]);
    const { id: first } = await q.add('j', 0);
    await until(() => ran.length === 1, 'the first job to start');

    await q.pause();
    await q.pause(); // idempotent
    await until(() => qa.isPaused() && qb.isPaused(), 'both workers to hear of the pause');
    expect((await q.counts()).paused).toBe(true);
    await q.addBulk([1, 2, 3, 4, 5].map((data) => ({ name: 'j', data })));
    gate.resolve();
    await poll(
      () => q.getJob(first),
      (j) => j?.state === 'completed',
      'the active job to finish while paused',
    );
    const paused = await poll(
      () => q.counts(),
      (n) => n.waiting === 5 && n.active === 0,
      'five waiting jobs and none active',
    );
    expect(paused).toMatchObject({ waiting: 5, active: 0, completed: 1, paused: true });
    expect(ran).toHaveLength(1);

    await q.resume();
    await until(() => ran.length === 6, 'every job after the resume');
    expect(ran.map((r) => Number(r.split(':')[1])).sort()).toEqual([0, 1, 2, 3, 4, 5]);
    // One worker may run every job before the other hears of the resume: it does hear of it.
    await until(() => !qa.isPaused() && !qb.isPaused(), 'both workers to hear of the resume');
    expect((await q.counts()).paused).toBe(false);
  });

  it('strands no job when paused while jobs keep coming: once resumed every job runs within seconds, once', async () => {
    const [a, admin] = [await runtime('a'), await runtime('admin')];
    // A job the server sends into a pull request as the pause ends it finds the pull's inbox gone:
    // it comes back after the ack wait, short here so that the wait below covers it.
    const qa = a.queue<number>('pause-race', { concurrency: 4, ackWaitMs: 3_000 });
    const q = admin.queue<number>('pause-race', { ackWaitMs: 3_000 });
    const runs = new Map<number, number>();
    qa.process((job) => void runs.set(job.data, (runs.get(job.data) ?? 0) + 1));
    await qa.ready();
    let adding = true;
    let added = 0;
    const adder = (async () => {
      while (adding) {
        await q.addBulk(Array.from({ length: 20 }, (_, i) => ({ name: 'j', data: added + i })));
        added += 20;
        await new Promise((r) => setTimeout(r, 1));
      }
    })();
    await until(() => runs.size > 100, 'jobs flowing');
    await q.pause();
    await until(() => qa.isPaused(), 'the worker to hear of the pause');
    await new Promise((r) => setTimeout(r, 300));
    adding = false;
    await adder;
    const ranWhilePaused = runs.size;
    await new Promise((r) => setTimeout(r, 500));
    expect(runs.size).toBe(ranWhilePaused);
    await q.resume();
    await poll(
      () => q.counts(),
      (n) => n.completed === added && n.active === 0 && n.waiting === 0,
      'every job run after the resume',
      10_000,
    );
    expect(runs.size).toBe(added);
    expect([...runs.values()].filter((n) => n !== 1)).toEqual([]);
  });

  it('a worker that starts while the queue is paused takes nothing until resumed', async () => {
    const [admin, late] = [await runtime('admin'), await runtime('late')];
    const q = admin.queue<number>('born-paused');
    await q.ready();
    await q.pause();
    await q.addBulk([1, 2, 3].map((data) => ({ name: 'j', data })));
    const ran: number[] = [];
    const w = late.queue<number>('born-paused', { concurrency: 3 });
    w.process((job) => void ran.push(job.data));
    await w.ready();
    expect(w.isPaused()).toBe(true);
    expect(await q.counts()).toMatchObject({ waiting: 3, active: 0, paused: true });
    expect(ran).toEqual([]);
    await q.resume();
    await until(() => ran.length === 3, 'the three jobs after the resume');
  });

  it('counts() of a queue never paused says paused: false', async () => {
    const rt = await runtime();
    const q = rt.queue('never-paused');
    await q.ready();
    expect((await q.counts()).paused).toBe(false);
  });
});

// The CLI speaks to a broker: NATS only.
describe('bulwark jobs pause|resume|cancel|remove|clean on nats', () => {
  const { runtime, bus } = useRuntimes(transportCase('nats'));
  const cli = (...args: string[]) => runCli([...args, '--prefix', bus().prefix], { NATS_URL: bus().url });

  it('pauses and resumes the workers, cancels, removes and cleans jobs, with JSON output', async () => {
    const rt = await runtime();
    const q = rt.queue<string>('cli-admin', { concurrency: 2 });
    const ran: string[] = [];
    q.process((job) => void ran.push(job.data));
    await q.ready();

    expect(json(await cli('jobs', 'pause', 'cli-admin', '--json'))).toEqual({
      queue: 'cli-admin',
      paused: true,
    });
    await until(() => q.isPaused(), 'the worker to hear of the pause');
    const [a, b, c] = await q.addBulk(['a', 'b', 'c'].map((data) => ({ name: 'j', data })));
    expect(json(await cli('jobs', 'cancel', 'cli-admin', a!.id, 'nope', '--json'))).toEqual({
      cancelled: [a!.id],
      skipped: ['nope'],
    });
    expect(json(await cli('jobs', 'remove', 'cli-admin', b!.id, '--json'))).toEqual({
      removed: [b!.id],
      skipped: [],
    });
    expect(json(await cli('jobs', 'resume', 'cli-admin', '--json'))).toEqual({
      queue: 'cli-admin',
      paused: false,
    });
    await poll(
      () => q.getJob(c!.id),
      (j) => j?.state === 'completed',
      'the job left to run',
    );
    expect(ran).toEqual(['c']);
    const shown = json<{ state: string }>(await cli('jobs', 'show', 'cli-admin', a!.id, '--json'));
    expect(shown.state).toBe('cancelled');

    const refused = await cli('jobs', 'clean', 'cli-admin', '--json');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/--state <state> and --older-than <ms>/);
    const cleaned = await cli(
      'jobs',
      'clean',
      'cli-admin',
      '--state',
      'cancelled',
      '--older-than',
      '0',
      '--json',
    );
    expect(json(cleaned)).toEqual({ removed: 1 });
    expect(await q.getJob(a!.id)).toBeUndefined();
  });
});
