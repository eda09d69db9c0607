import { describe, expect, it } from 'vitest';
import { poll } from '../support/wait.js';
import { useRuntimes } from '../support/runtime.js';
import { transportCase } from '../support/transports.js';

const nats = transportCase('nats');

// A record the stream refuses cannot be stored however often it is written: a job whose result
// does not fit a message must complete once, not run again after every failed write.
describe('job queue on nats: results larger than a message', () => {
  const { runtime } = useRuntimes(nats);

  it('completes the job once, without its result; a result that fits is kept', async () => {
    const rt = await runtime();
    const q = rt.queue<{ size: number }>('big-results', { maxAttempts: 3 });
    const runs = new Map<number, number>();
    q.process((job) => {
      runs.set(job.data.size, (runs.get(job.data.size) ?? 0) + 1);
      return 'x'.repeat(job.data.size);
    });
    const big = await q.add('big', { size: 2_000_000 });
    const small = await q.add('small', { size: 10 });
    await poll(
      () => q.counts(),
      (n) => n.completed === 2,
      'both jobs completed',
      20_000,
    );
    expect(await q.getJob(big.id)).toMatchObject({ state: 'completed', attempts: 1 });
    expect((await q.getJob(big.id))?.result).toBeUndefined();
    expect(await q.getJob(small.id)).toMatchObject({ state: 'completed', result: 'x'.repeat(10) });
    // Long enough for a refused record's job to have come back.
    await new Promise((r) => setTimeout(r, 1_500));
    expect([...runs]).toEqual([
      [2_000_000, 1],
      [10, 1],
    ]);
  });
});
