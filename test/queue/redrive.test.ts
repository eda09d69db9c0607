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
