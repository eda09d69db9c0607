import { describe, expect, it, vi } from 'vitest';
import { fixed } from '../../src/retry/backoff.js';
import { API_RETRY_POLICY, DB_RETRY_POLICY, retry } from '../../src/retry/retry.js';

describe('retry', () => {
  it('retries until success, waiting the backoff delay between tries', async () => {
    vi.useFakeTimers();
    try {
      const attempts: number[] = [];
      const done = retry(
        (attempt) => {
          attempts.push(attempt);
          if (attempt < 3) throw new Error('flaky');
          return 'ok';
        },
        { maxAttempts: 5, backoff: fixed({ delayMs: 100 }) },
      );
      await vi.advanceTimersByTimeAsync(99);
      expect(attempts).toEqual([1]);
      await vi.advanceTimersByTimeAsync(1);
      expect(attempts).toEqual([1, 2]);
      await vi.advanceTimersByTimeAsync(100);
      await expect(done).resolves.toBe('ok');
      expect(attempts).toEqual([1, 2, 3]);
    } finally {
      vi.useRealTimers();
    }
  });

  it('gives up after maxAttempts with the last error', async () => {
    let n = 0;
    await expect(
      retry(() => Promise.reject(new Error(`e${++n}`)), { maxAttempts: 3, backoff: fixed({ delayMs: 0 }) }),
    ).rejects.toThrow('e3');
    expect(n).toBe(3);
  });

  it('stops at once on an error isRetryable rejects', async () => {
    let n = 0;
    const fatal = new Error('fatal');
    await expect(
      retry(
        () => {
          n++;
          throw fatal;
        },
        { maxAttempts: 5, isRetryable: (e) => e !== fatal, backoff: fixed({ delayMs: 0 }) },
      ),
    ).rejects.toBe(fatal);
    expect(n).toBe(1);
  });

  it('aborts while waiting when the signal fires', async () => {
    const controller = new AbortController();
    const p = retry(() => Promise.reject(new Error('x')), {
      maxAttempts: 5,
      backoff: fixed({ delayMs: 60_000 }),
      signal: controller.signal,
    });
    controller.abort(new Error('cancelled'));
    await expect(p).rejects.toThrow('cancelled');
  });

  it('ships presets for databases and remote APIs', () => {
    expect(DB_RETRY_POLICY.maxAttempts).toBeGreaterThan(1);
    expect(API_RETRY_POLICY.maxAttempts).toBeGreaterThan(1);
    expect(DB_RETRY_POLICY.backoff.delay(10)).toBeLessThanOrEqual(2_000);
  });
});
