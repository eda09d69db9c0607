import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/errors.js';
import type { Job } from '../../src/queue/types.js';
import { poll, until } from '../support/wait.js';
import { useRuntimes } from '../support/runtime.js';
import { transportCases } from '../support/transports.js';

/** @returns the most starts that fall in any half-open window of `windowMs` */
function busiestWindow(starts: readonly number[], windowMs: number): number {
  const sorted = [...starts].sort((a, b) => a - b);
  let most = 0;
  let j = 0;
  for (let i = 0; i < sorted.length; i++) {
    while (sorted[j]! <= sorted[i]! - windowMs) j++;
    most = Math.max(most, i - j + 1);
  }
  return most;
}

describe('busiestWindow', () => {
  it('counts starts in every sliding window', () => {
    expect(busiestWindow([0, 999, 1000, 1500, 2000], 1000)).toBe(3);
    expect(busiestWindow([0, 1000, 2000], 1000)).toBe(1);
  });
});

describe.each(transportCases)('queue rate limiter on $name', (c) => {
  const { runtime } = useRuntimes(c);

  it('three workers never start more than max in any window, and keep close to the limit', async () => {
    const runtimes = await Promise.all(['a', 'b', 'c'].map((s) => runtime(s)));
    const limiter = { max: 50, durationMs: 1_000 };
    const starts: number[] = [];
    const queues = runtimes.map((rt) => rt.queue<number>('limited', { concurrency: 20, limiter }));
    for (const q of queues) q.process(() => void starts.push(Date.now()));
    await Promise.all(queues.map((q) => q.ready()));
    const total = 550;
    const began = Date.now();
    await queues[0]!.addBulk(Array.from({ length: total }, (_, data) => ({ name: 'j', data })));
    await until(() => starts.length === total, 'every job to start', 25_000);
    const elapsed = Date.now() - began;

    expect(busiestWindow(starts, 1_000)).toBeLessThanOrEqual(50);
    // 550 starts at 50 per second need at least 10 windows, and the limit is used, not starved.
    expect(elapsed).toBeGreaterThanOrEqual(10_000);
    expect(elapsed).toBeLessThan(20_000);
  }, 40_000);

  it('with groupKey, one group flooding its limit does not hold back another group', async () => {
    const [a, b] = [await runtime('a'), await runtime('b')];
    const limiter = { max: 5, durationMs: 1_000, groupKey: 'tenant' };
    const done: { tenant: string; at: number }[] = [];
    const handler = (job: Job<{ tenant: string }>): void =>
      void done.push({ tenant: job.data.tenant, at: Date.now() });
    const qa = a.queue<{ tenant: string }>('per-tenant', { concurrency: 4, limiter });
    const qb = b.queue<{ tenant: string }>('per-tenant', { concurrency: 4, limiter });
    qa.process(handler);
    qb.process(handler);
    await Promise.all([qa.ready(), qb.ready()]);
    await qa.addBulk(Array.from({ length: 40 }, () => ({ name: 'j', data: { tenant: 'flood' } })));
    await until(() => done.length >= 5, 'the flood to use its first window');
    await qa.addBulk(Array.from({ length: 5 }, () => ({ name: 'j', data: { tenant: 'calm' } })));
    await until(() => done.filter((d) => d.tenant === 'calm').length === 5, 'the calm group', 5_000);

    const flood = done.filter((d) => d.tenant === 'flood');
    // The calm group ran while most of the flood still waited for its windows.
    expect(flood.length).toBeLessThan(20);
    expect(
      busiestWindow(
        flood.map((d) => d.at),
        1_000,
      ),
    ).toBeLessThanOrEqual(5);
    // Jobs put back for their window spent no try.
    const [job] = await qa.addBulk([{ name: 'j', data: { tenant: 'flood' } }]);
    await until(() => done.length >= 46, 'every flood job', 15_000);
    const finished = await poll(
      () => qa.getJob(job!.id),
      (j) => j?.state === 'completed',
      'the last job to be stored completed',
    );
    expect(finished?.attempts).toBe(1);
  }, 30_000);

  it('rejects a limiter out of range', async () => {
    const rt = await runtime();
    expect(() => rt.queue('bad-limit', { limiter: { max: 0, durationMs: 1_000 } })).toThrow(ValidationError);
    expect(() => rt.queue('bad-limit', { limiter: { max: 5, durationMs: -1 } })).toThrow(ValidationError);
  });
});
