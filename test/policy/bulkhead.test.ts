import { describe, expect, it } from 'vitest';
import { isBulkheadRejectedError, isTimeoutError, isValidationError } from '../../src/errors.js';
import { bulkhead, timeout, wrap } from '../../src/policy/index.js';
import { TestClock } from '../support/clock.js';
import { deferred } from '../support/wait.js';

const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('bulkhead', () => {
  it('runs up to maxConcurrent at once, queues up to maxQueue in order, refuses the rest', async () => {
    const pool = bulkhead({ maxConcurrent: 2, maxQueue: 1, name: 'db' });
    const gates = [deferred<string>(), deferred<string>(), deferred<string>()];
    const started: number[] = [];
    const calls = gates.map((g, i) =>
      pool.execute(() => {
        started.push(i);
        return g.promise;
      }),
    );
    const refused = await pool.execute(() => 'never').catch((e: unknown) => e);
    expect(isBulkheadRejectedError(refused)).toBe(true);
    expect(refused).toMatchObject({ maxConcurrent: 2, maxQueue: 1 });
    expect(started).toEqual([0, 1]);
    expect(pool.stats()).toMatchObject({ executing: 2, queued: 1, rejected: 1 });
    gates[0]!.resolve('a');
    await expect(calls[0]).resolves.toBe('a');
    await flush();
    expect(started).toEqual([0, 1, 2]);
    gates[1]!.reject(new Error('down'));
    gates[2]!.resolve('c');
    await expect(calls[1]).rejects.toThrow('down');
    await expect(calls[2]).resolves.toBe('c');
    expect(pool.stats()).toMatchObject({ executing: 0, queued: 0 });
  });

  it('a queued caller whose signal aborts leaves the queue with the reason and never runs', async () => {
    const pool = bulkhead({ maxConcurrent: 1, maxQueue: 2 });
    const gate = deferred();
    const running = pool.execute(() => gate.promise);
    const controller = new AbortController();
    let ran = false;
    const waiting = pool.execute(() => {
      ran = true;
    }, controller.signal);
    const after = pool.execute(() => 'after');
    expect(pool.stats().queued).toBe(2);
    const reason = new Error('caller gave up');
    controller.abort(reason);
    await expect(waiting).rejects.toBe(reason);
    expect(pool.stats().queued).toBe(1);
    gate.resolve();
    await running;
    await expect(after).resolves.toBe('after');
    expect(ran).toBe(false);
  });

  it('a queued caller inside a timeout leaves the queue when its deadline passes', async () => {
    const clock = new TestClock(0);
    const pool = bulkhead({ maxConcurrent: 1, maxQueue: 1 });
    const gate = deferred();
    const running = pool.execute(() => gate.promise);
    let ran = false;
    const late = wrap(timeout(100, { clock }), pool)
      .execute(() => {
        ran = true;
      })
      .catch((e: unknown) => e);
    expect(pool.stats().queued).toBe(1);
    clock.advance(100);
    expect(isTimeoutError(await late)).toBe(true);
    expect(pool.stats()).toMatchObject({ executing: 1, queued: 0 });
    gate.resolve();
    await running;
    await flush();
    expect(ran).toBe(false);
    expect(pool.stats().executing).toBe(0);
  });

  it('refuses a call whose signal already aborted, taking no slot', async () => {
    const pool = bulkhead({ maxConcurrent: 1 });
    const controller = new AbortController();
    controller.abort(new Error('too late'));
    await expect(pool.execute(() => 1, controller.signal)).rejects.toThrow('too late');
    expect(pool.stats()).toMatchObject({ executing: 0, queued: 0, rejected: 0 });
  });

  it('frees the slot of a call that throws synchronously', async () => {
    const pool = bulkhead({ maxConcurrent: 1 });
    await expect(
      pool.execute(() => {
        throw new Error('sync');
      }),
    ).rejects.toThrow('sync');
    await expect(pool.execute(() => 2)).resolves.toBe(2);
  });

  it('hands the caller signal to a call that started from the queue', async () => {
    const pool = bulkhead({ maxConcurrent: 1, maxQueue: 1 });
    const gate = deferred();
    void pool.execute(() => gate.promise);
    const controller = new AbortController();
    const seen = pool.execute((signal) => signal, controller.signal);
    gate.resolve();
    await expect(seen).resolves.toBe(controller.signal);
  });

  it('rejects options out of range', () => {
    for (const bad of [{ maxConcurrent: 0 }, { maxConcurrent: 1.5 }, { maxConcurrent: 1, maxQueue: -1 }]) {
      expect(() => bulkhead(bad)).toThrow(expect.objectContaining({ code: 'BULWARK_VALIDATION' }));
    }
    try {
      bulkhead({ maxConcurrent: 0 });
    } catch (e) {
      expect(isValidationError(e)).toBe(true);
    }
  });
});
