import { spawn } from 'node:child_process';
import { describe, expect, inject, it } from 'vitest';
import { createActor } from 'xstate';
import { fromTimer } from '../../src/actors/timer.actor.js';
import { retryJobMachine } from '../../src/machines/retry-job.machine.js';
import { TestClock } from '../support/clock.js';
import type { JobInfo } from '../../src/queue/types.js';
import { deadLetterGroup } from '../../src/queue/dead-letter.js';
import { deferred, poll, until } from '../support/wait.js';
import { useRuntimes } from '../support/runtime.js';
import { transportCase, transportCases } from '../support/transports.js';

describe('retry-job machine: job.cancel', () => {
  function job() {
    const clock = new TestClock();
    const aborted: number[] = [];
    const failures: number[] = [];
    const machine = retryJobMachine.provide({
      actions: {
        abortTry: ({ context }) => void aborted.push(context.attempt),
        reportFailed: ({ context }) => void failures.push(context.attempt),
      },
      actors: { backoff: fromTimer(clock) },
    });
    const input = { id: 'j', attemptsMade: 0, maxAttempts: 3, timeoutMs: 0, backoffMs: [100] };
    const actor = createActor(machine, { clock, input }).start();
    return { actor, aborted, failures, clock };
  }

  it('ends an active try cancelled: the try is aborted, the actor ends cancelled, a late result is ignored', () => {
    const { actor, aborted } = job();
    actor.send({ type: 'job.cancel' });
    expect(actor.getSnapshot()).toMatchObject({ status: 'done', value: 'cancelled' });
    expect(aborted).toEqual([1]);
    actor.send({ type: 'try.failed', error: new Error('aborted') });
    expect(actor.getSnapshot().value).toBe('cancelled');
  });

  it('ends a backing-off job cancelled without a retry', () => {
    const { actor, failures, clock } = job();
    actor.send({ type: 'try.failed', error: new Error('boom') });
    expect(actor.getSnapshot().value).toBe('failed');
    actor.send({ type: 'job.cancel' });
    expect(actor.getSnapshot()).toMatchObject({ status: 'done', value: 'cancelled' });
    expect(failures).toEqual([1]);
    expect(clock.pending).toBe(0);
  });
});

describe.each(transportCases)('job cancel and remove on $name', (c) => {
  const { runtime } = useRuntimes(c);

  it('cancel aborts an active job: it ends cancelled, is not retried, and has no dead letter', async () => {
    const rt = await runtime();
    const q = rt.queue<null>('cancel-active', { maxAttempts: 3 });
    const started: number[] = [];
    const aborted = deferred();
    const cancelled: JobInfo[] = [];
    q.on('cancelled', (job) => cancelled.push(job));
    q.process(async (job) => {
      started.push(job.attempt);
      await new Promise<void>((r) => job.signal.addEventListener('abort', () => r()));
      aborted.resolve();
      throw new Error('aborted');
    });
    const { id } = await q.add('long', null);
    await until(() => started.length === 1, 'the job to start');
    // Two cancels at once: harmless, one outcome.
    expect(await Promise.all([q.cancel(id), q.cancel(id)])).toContain(true);
    await aborted.promise;
    const job = await poll(
      () => q.getJob(id),
      (j) => j?.state === 'cancelled',
      'the cancelled job',
    );
    expect(job).toMatchObject({ id, name: 'long', state: 'cancelled', attempts: 1 });
    expect(cancelled.map((j) => j.id)).toEqual([id]);
    const counts = await poll(
      () => q.counts(),
      (n) => n.cancelled === 1 && n.active === 0,
      'counts with the cancelled job',
    );
    expect(counts).toMatchObject({ waiting: 0, failed: 0, dead: 0, cancelled: 1 });
    expect(started).toEqual([1]);
    expect(await rt.deadLetters.list({ group: deadLetterGroup('cancel-active') })).toEqual([]);
    expect(await q.cancel(id)).toBe(false); // finished already
  });

  it('cancel of a waiting or delayed job ends it cancelled at once; no worker runs it later', async () => {
    const rt = await runtime();
    const q = rt.queue<string>('cancel-waiting', { concurrency: 4 });
    await q.ready();
    const { id: waiting } = await q.add('w', 'waiting');
    const { id: delayed } = await q.add('d', 'delayed', { delayMs: 60_000 });
    const { id: kept } = await q.add('k', 'kept');
    // Two cancels of one job at once: harmless.
    const twice = await Promise.all([q.cancel(waiting), q.cancel(waiting)]);
    expect(twice).toContain(true);
    expect(await q.cancel(delayed)).toBe(true);
    expect(await q.cancel('no-such-job')).toBe(false);
    expect(await q.getJob(waiting)).toMatchObject({ state: 'cancelled', name: 'w', data: 'waiting' });
    expect(await q.getJob(delayed)).toMatchObject({ state: 'cancelled', name: 'd', data: 'delayed' });
    const ran: string[] = [];
    q.process((job) => void ran.push(job.data));
    await poll(
      () => q.getJob(kept),
      (j) => j?.state === 'completed',
      'the job that was not cancelled',
    );
    expect(ran).toEqual(['kept']);
    expect(await q.counts()).toMatchObject({ waiting: 0, delayed: 0, cancelled: 2, completed: 1 });
  });

  it('remove takes a waiting and a delayed job away for good, but not an active one', async () => {
    const rt = await runtime();
    const q = rt.queue<string>('removable', { concurrency: 1 });
    await q.ready();
    const { id: waiting } = await q.add('w', 'waiting');
    const { id: delayed } = await q.add('d', 'delayed', { delayMs: 60_000 });
    expect(await q.counts()).toMatchObject({ waiting: 1, delayed: 1 });
    expect(await Promise.all([q.remove(waiting), q.remove(waiting)])).toContain(true);
    expect(await q.remove(delayed)).toBe(true);
    expect(await q.remove(delayed)).toBe(false);
    expect(await q.getJob(waiting)).toBeUndefined();
    expect(await q.getJob(delayed)).toBeUndefined();
    expect(await q.counts()).toMatchObject({ waiting: 0, delayed: 0, cancelled: 0 });

    const gate = deferred();
    const ran: string[] = [];
    q.process(async (job) => {
      ran.push(job.data);
      await gate.promise;
    });
    const { id: active } = await q.add('a', 'active');
    await until(() => ran.length === 1, 'the job to start');
    expect(await q.remove(active)).toBe(false);
    gate.resolve();
    await poll(
      () => q.getJob(active),
      (j) => j?.state === 'completed',
      'the active job to complete',
    );
    expect(ran).toEqual(['active']);
    expect(await q.remove(active)).toBe(true); // a finished job's record
    expect(await q.getJob(active)).toBeUndefined();
  });
});

// Only JetStream spans processes.
describe('job cancel on nats: a job running in another process', () => {
  const { runtime, bus } = useRuntimes(transportCase('nats'));

  it('aborts its signal there; the job ends cancelled and is not retried', async () => {
    const rt = await runtime('admin');
    const q = rt.queue<null>('remote-cancel', { maxAttempts: 3 });
    await q.ready();
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'test/fixtures/cancel-worker.ts', inject('natsUrl'), bus().prefix, 'remote-cancel'],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    const exited = new Promise((r) => child.once('exit', r));
    try {
      await until(() => out.includes('ready'), 'the child worker', 20_000);
      const { id } = await q.add('long', null);
      await until(() => out.includes(`started ${id}`), 'the child to start the job', 10_000);
      expect(await q.cancel(id)).toBe(true);
      await until(() => out.includes(`aborted ${id}`), "the job's signal to abort in the child", 10_000);
      const job = await poll(
        () => q.getJob(id),
        (j) => j?.state === 'cancelled' && j.attempts === 1,
        'the cancelled job, its running try counted',
      );
      expect(job).toMatchObject({ state: 'cancelled', attempts: 1 });
      // The worker's record and the canceller's agree: neither overwrites the other with another count.
      await new Promise((r) => setTimeout(r, 300));
      expect(await q.getJob(id)).toMatchObject({ state: 'cancelled', attempts: 1 });
      // A second job runs in the child after it: the cancelled one was not taken again before it.
      const { id: next } = await q.add('next', null);
      await until(() => out.includes(`started ${next}`), 'the next job in the child', 10_000);
      expect(out.match(new RegExp(`started ${id}`, 'g'))).toHaveLength(1);
      expect(await q.counts()).toMatchObject({ failed: 0, dead: 0, cancelled: 1 });
    } finally {
      child.kill('SIGTERM');
      await exited;
    }
  });
});
