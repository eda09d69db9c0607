import { describe, expect, it } from 'vitest';
import { deadLetterGroup } from '../../src/queue/dead-letter.js';
import { fixed } from '../../src/retry/backoff.js';
import { deferred, poll } from '../support/wait.js';
import { useRuntimes } from '../support/runtime.js';
import { transportCases } from '../support/transports.js';

describe.each(transportCases)('job queue on $name: redriving a dead job', (c) => {
  const { runtime } = useRuntimes(c);

  it('puts it back into its queue as the same job, with fresh attempts', async () => {
    const rt = await runtime();
    const q = rt.queue<{ to: string }>('redrive', { maxAttempts: 5, backoff: fixed({ delayMs: 10 }) });
    const dead = deferred<void>();
    q.on('dead', () => dead.resolve());
    let healthy = false;
    const runs: { name: string; attempt: number; to: string }[] = [];
    q.process((job) => {
      runs.push({ name: job.name, attempt: job.attempt, to: job.data.to });
      if (!healthy) throw new Error('smtp down');
      return 'sent';
    });
    const { id } = await q.add('send mail', { to: 'ada' }, { maxAttempts: 2, priority: 'high' });
    await dead.promise;
    healthy = true;
    const group = deadLetterGroup('redrive');
    await poll(
      () => rt.deadLetters.list({ group }),
      (d) => d.length === 1,
      'dead letter',
    );
    expect(await rt.deadLetters.redrive({ group })).toEqual({ redriven: 1 });
    const job = await poll(
      () => q.getJob(id),
      (j) => j?.state === 'completed',
      'completed job',
    );
    expect(job).toMatchObject({ name: 'send mail', data: { to: 'ada' }, priority: 'high', result: 'sent' });
    expect(runs.at(-1)).toEqual({ name: 'send mail', attempt: 1, to: 'ada' });
    expect(
      await poll(
        () => q.counts(),
        (n) => n.completed === 1,
        'counts',
      ),
    ).toMatchObject({ dead: 0, completed: 1, waiting: 0, active: 0 });
  });
});

describe.each(transportCases)('job queue on $name: redriving a dead job of an ordered group', (c) => {
  const { runtime } = useRuntimes(c);

  it('puts it at the end of its group: it waits for the job running there, and the next one waits for it', async () => {
    const rt = await runtime();
    const q = rt.queue<string>('redrive-group', { concurrency: 4, maxAttempts: 1 });
    const ran: string[] = [];
    const gate = deferred<void>();
    let failing = true;
    q.process(async (job) => {
      ran.push(`start ${job.data}`);
      if (job.data === 'a' && failing) throw new Error('down');
      if (job.data === 'blocker') await gate.promise;
      ran.push(`end ${job.data}`);
    });
    const dead = deferred<void>();
    q.on('dead', () => dead.resolve());
    const { id } = await q.add('j', 'a', { group: 'customer-7' });
    await dead.promise;
    failing = false;
    await q.add('j', 'blocker', { group: 'customer-7' });
    await poll(
      async () => ran,
      (r) => r.includes('start blocker'),
      'the blocker running',
    );

    const group = deadLetterGroup('redrive-group');
    await poll(
      () => rt.deadLetters.list({ group }),
      (d) => d.length === 1,
      'dead letter',
    );
    expect((await rt.deadLetters.list({ group }))[0]?.event.jobgroup).toBe('customer-7');
    expect(await rt.deadLetters.redrive({ group })).toEqual({ redriven: 1 });
    // Back in its group (not dead, not run): it waits behind the blocker.
    const back = await poll(
      () => q.getJob(id),
      (j) => j !== undefined && j.state !== 'dead',
      'the redriven job back in its queue',
    );
    expect(back?.state).toBe('waiting');
    await q.add('j', 'c', { group: 'customer-7' });
    expect(ran).toEqual(['start a', 'start blocker']);

    gate.resolve();
    await poll(
      () => q.counts(),
      (n) => n.completed === 3 && n.active === 0,
      'the group done',
    );
    expect(ran).toEqual(['start a', 'start blocker', 'end blocker', 'start a', 'end a', 'start c', 'end c']);
    expect(await q.counts()).toMatchObject({ dead: 0, completed: 3, waiting: 0 });
  });
});
