import { describe, expect, it } from 'vitest';
import { deadLetterGroup } from '../../src/queue/dead-letter.js';
import { fixed } from '../../src/retry/backoff.js';
import { useRuntimes } from '../support/runtime.js';
import { transportCases } from '../support/transports.js';
import { poll } from '../support/wait.js';

// Finding: a redriven job that fails again was lost on NATS (its retry record reused the
// dedup key of its first life, the stream dropped it as a duplicate, and the job was acked).

describe.each(transportCases)('a redriven job that fails again, on $name', (c) => {
  const { runtime } = useRuntimes(c);

  it('is retried and dies again, every time, instead of vanishing', async () => {
    const rt = await runtime();
    const q = rt.queue('again', { maxAttempts: 2, backoff: fixed({ delayMs: 20 }) });
    const runs = new Map<string, number>();
    q.process((job) => {
      runs.set(job.id, (runs.get(job.id) ?? 0) + 1);
      throw new Error('still broken');
    });
    const jobs = 10;
    const ids = (await q.addBulk(Array.from({ length: jobs }, (_, i) => ({ name: 'send', data: i })))).map(
      (j) => j.id,
    );
    const group = deadLetterGroup('again');
    for (let life = 1; life <= 3; life++) {
      await poll(
        () => rt.deadLetters.count({ group }),
        (n) => n === jobs,
        `${jobs} dead letters in life ${life}`,
      );
      for (const id of ids) expect(runs.get(id)).toBe(2 * life);
      // The dead letter is written first, the queue's own dead record right after. (Every job's record
      // is read, not `counts().dead`: on nats-server 2.9 a counting consumer's pending figure can
      // come out short once a redriven job's old dead record has been purged.)
      await poll(
        async () => Promise.all(ids.map(async (id) => (await q.getJob(id))?.state)),
        (states) => states.every((s) => s === 'dead'),
        `every job dead in life ${life}`,
      );
      await poll(
        () => q.counts(),
        (n) => n.waiting === 0 && n.active === 0 && n.failed === 0,
        `nothing left to run in life ${life}`,
      );
      if (life < 3) expect(await rt.deadLetters.redrive({ group })).toEqual({ redriven: jobs });
    }
  });
});
