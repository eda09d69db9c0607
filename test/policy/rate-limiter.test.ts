import { describe, expect, it } from 'vitest';
import { isRateLimitedError, isTimeoutError } from '../../src/errors.js';
import { rateLimiter, timeout, wrap } from '../../src/policy/index.js';
import { TestClock } from '../support/clock.js';

const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('rate limiter', () => {
  it('lets `limit` calls through at once, then refuses with retryAfterMs until tokens drip back', async () => {
    const clock = new TestClock(1_000);
    const limit = rateLimiter({ limit: 2, intervalMs: 1_000, name: 'stripe' }, { clock });
    await expect(limit.execute(() => 'a')).resolves.toBe('a');
    await expect(limit.execute(() => 'b')).resolves.toBe('b');
    const refused = await limit.execute(() => 'c').catch((e: unknown) => e);
    expect(isRateLimitedError(refused)).toBe(true);
    expect(refused).toMatchObject({ limiter: 'stripe', retryAfterMs: 500 });
    clock.advance(499);
    await expect(limit.execute(() => 'd')).rejects.toMatchObject({ retryAfterMs: 1 });
    clock.advance(1);
    await expect(limit.execute(() => 'e')).resolves.toBe('e');
    expect(limit.stats()).toMatchObject({ granted: 3, rejected: 2, available: 0 });
  });

  it('with wait, a caller waits for its token and one whose signal aborts leaves the queue', async () => {
    const clock = new TestClock(0);
    const limit = rateLimiter({ limit: 1, intervalMs: 100, wait: true }, { clock });
    const ran: string[] = [];
    await limit.execute(() => ran.push('first'));
    const controller = new AbortController();
    const second = limit.execute(() => ran.push('second'), controller.signal);
    const third = limit.execute(() => ran.push('third'));
    expect(limit.stats().waiting).toBe(2);
    const reason = new Error('gave up');
    controller.abort(reason);
    await expect(second).rejects.toBe(reason);
    clock.advance(99);
    await flush();
    expect(ran).toEqual(['first']);
    clock.advance(1);
    await third;
    expect(ran).toEqual(['first', 'third']);
    expect(clock.pending).toBe(0);
  });

  it('with maxWaitMs, refuses a call that would wait longer', async () => {
    const clock = new TestClock(0);
    const limit = rateLimiter({ limit: 1, intervalMs: 100, wait: true, maxWaitMs: 150 }, { clock });
    await limit.execute(() => 1);
    const queued = limit.execute(() => 2); // due in 100 ms
    await expect(limit.execute(() => 3)).rejects.toMatchObject({ retryAfterMs: 200 });
    clock.advance(100);
    await expect(queued).resolves.toBe(2);
  });

  it('a waiting caller inside a timeout leaves the queue with the TimeoutError', async () => {
    const clock = new TestClock(0);
    const limit = rateLimiter({ limit: 1, intervalMs: 1_000, wait: true }, { clock });
    const policy = wrap(timeout(200, { clock }), limit);
    await policy.execute(() => 1);
    const late = policy.execute(() => 2).catch((e: unknown) => e);
    clock.advance(200);
    expect(isTimeoutError(await late)).toBe(true);
    expect(limit.stats().waiting).toBe(0);
    expect(clock.pending).toBe(0);
  });
});
