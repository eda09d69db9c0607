import { describe, expect, it } from 'vitest';
import { isValidationError } from '../../src/errors.js';
import { poll, until } from '../support/wait.js';
import { useRuntimes } from '../support/runtime.js';
import { transportCases } from '../support/transports.js';

describe.each(transportCases)('queue clean on $name', (c) => {
  const { runtime } = useRuntimes(c);

  it('removes only the finished jobs of the state and age asked for, once, however many clean at once', async () => {
    const rt = await runtime();
    const q = rt.queue<string>('cleanable', { maxAttempts: 1, concurrency: 4 });
    q.process((job) => {
      if (job.data === 'die') throw new Error('dies');
      return job.data;
    });
    const finished = async (ids: string[], state: string) => {
      for (const id of ids)
        await poll(
          () => q.getJob(id),
          (j) => j?.state === state,
          `job ${id} ${state}`,
        );
    };
    const old = await q.addBulk(['a', 'b', 'c'].map((data) => ({ name: 'ok', data })));
    const { id: dead } = await q.add('bad', 'die');
    const { id: cancelled } = await q.add('later', 'never', { delayMs: 60_000 });
    expect(await q.cancel(cancelled)).toBe(true);
    await finished(
      old.map((j) => j.id),
      'completed',
    );
    await finished([dead], 'dead');
    const between = Date.now();
    await until(() => Date.now() > between + 50, 'the clock to move on');
    const recent = await q.addBulk(['d', 'e'].map((data) => ({ name: 'ok', data })));
    await finished(
      recent.map((j) => j.id),
      'completed',
    );

    const olderThanMs = Date.now() - between;
    const twice = await Promise.all([
      q.clean({ state: 'completed', olderThanMs }),
      q.clean({ state: 'completed', olderThanMs }),
    ]);
    expect(twice[0] + twice[1]).toBe(3);
    for (const { id } of old) expect(await q.getJob(id)).toBeUndefined();
    for (const { id } of recent) expect((await q.getJob(id))?.state).toBe('completed');
    expect((await q.getJob(dead))?.state).toBe('dead');
    expect((await q.getJob(cancelled))?.state).toBe('cancelled');
    // Again, with the same cut-off time: nothing more.
    expect(await q.clean({ state: 'completed', olderThanMs: Date.now() - between })).toBe(0);
    expect(await q.counts()).toMatchObject({ completed: 2, dead: 1, cancelled: 1 });

    expect(await q.clean({ state: 'dead', olderThanMs: 0, limit: 1 })).toBe(1);
    expect(await q.clean({ state: 'cancelled', olderThanMs: 0 })).toBe(1);
    expect(await q.getJob(dead)).toBeUndefined();
    expect(await q.getJob(cancelled)).toBeUndefined();
    expect(await q.counts()).toMatchObject({ completed: 2, dead: 0, cancelled: 0 });
  });

  it('refuses options it cannot take with a ValidationError', async () => {
    const rt = await runtime();
    const q = rt.queue('strict-clean');
    await q.ready();
    const bad = [
      { state: 'active', olderThanMs: 0 },
      { state: 'completed', olderThanMs: -1 },
      { state: 'completed', olderThanMs: 0, limit: 0 },
    ];
    for (const o of bad) {
      const err = await q.clean(o as never).catch((e: unknown) => e);
      expect(isValidationError(err)).toBe(true);
    }
  });
});
