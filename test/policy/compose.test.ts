import { describe, expect, it } from 'vitest';
import { createBreaker, protect } from '../../src/breaker/index.js';
import {
  isBulkheadRejectedError,
  isCircuitOpenError,
  isTimeoutError,
  TimeoutError,
} from '../../src/errors.js';
import { bulkhead, timeout, wrap, type Policy } from '../../src/policy/index.js';
import { immediate } from '../../src/retry/backoff.js';
import { retry } from '../../src/retry/retry.js';
import { TestClock } from '../support/clock.js';

const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Work that never settles until its signal aborts. */
const hang = (signal: AbortSignal): Promise<never> =>
  new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)));

describe('timeout', () => {
  it('aborts the call signal with a TimeoutError and rejects at the deadline, clearing its timer', async () => {
    const clock = new TestClock(0);
    let seen: AbortSignal | undefined;
    const call = timeout(100, { clock })
      .execute((signal) => {
        seen = signal;
        return new Promise(() => undefined); // ignores its signal
      })
      .catch((e: unknown) => e);
    clock.advance(100);
    const err = await call;
    expect(err).toBeInstanceOf(TimeoutError);
    expect(seen?.aborted).toBe(true);
    expect(seen?.reason).toBe(err);
    await expect(timeout(100, { clock }).execute(() => 'fast')).resolves.toBe('fast');
    expect(clock.pending).toBe(0);
  });

  it("aborts with the caller's reason when the caller aborts first", async () => {
    const controller = new AbortController();
    const call = timeout(10_000).execute(hang, controller.signal);
    const reason = new Error('caller left');
    controller.abort(reason);
    await expect(call).rejects.toBe(reason);
  });
});

describe('retry as a policy', () => {
  it('keeps `retry(fn, opts)` and makes `retry(opts)` a policy passing the caller signal to each try', async () => {
    let tries = 0;
    await expect(
      retry(() => (++tries < 3 ? Promise.reject(new Error('x')) : tries), { backoff: immediate }),
    ).resolves.toBe(3);
    const controller = new AbortController();
    const signals: AbortSignal[] = [];
    const policy: Policy = retry({ maxAttempts: 3, backoff: immediate });
    const out = await policy.execute((signal) => {
      signals.push(signal);
      if (signals.length < 2) throw new Error('once');
      return 'ok';
    }, controller.signal);
    expect(out).toBe('ok');
    expect(signals).toEqual([controller.signal, controller.signal]);
  });

  it('stops retrying once its signal aborted, rejecting with the reason', async () => {
    const clock = new TestClock(0);
    let tries = 0;
    const policy = wrap(
      timeout(50, { clock }),
      retry({ maxAttempts: 10, backoff: { delay: () => 30 }, clock }),
    );
    const call = policy
      .execute(() => {
        tries++;
        throw new Error('down');
      })
      .catch((e: unknown) => e);
    await flush();
    clock.advance(30); // the first wait ends: the second try fails at once
    await flush();
    clock.advance(30); // the timeout (at 50) comes before the end of the second wait (at 60)
    expect(isTimeoutError(await call)).toBe(true);
    expect(tries).toBe(2);
    expect(clock.pending).toBe(0);
  });
});

describe('wrap', () => {
  it('runs the first policy outermost and links a breaker signal with the ones around it', async () => {
    const clock = new TestClock(0);
    const breaker = createBreaker('wrap-link', { failureThreshold: 2 }, { clock });
    const policy = wrap(timeout(100, { clock }), breaker);
    const call = policy.execute(hang).catch((e: unknown) => e);
    clock.advance(100);
    expect(isTimeoutError(await call)).toBe(true);
    await flush();
    expect(breaker.stats()).toMatchObject({ failureCount: 1, timeoutCount: 1 });
    breaker.dispose();
  });

  it('a retry outside a breaker sees its refusals; a bulkhead outside a retry is taken once per call', async () => {
    const breaker = createBreaker('wrap-order', { failureThreshold: 1, resetTimeoutMs: 60_000 });
    const pool = bulkhead({ maxConcurrent: 1 });
    const seen: string[] = [];
    const policy = wrap(
      pool,
      retry({
        maxAttempts: 3,
        backoff: immediate,
        onRetry: (err) => seen.push(isCircuitOpenError(err) ? 'open' : 'error'),
      }),
      breaker,
    );
    await expect(policy.execute(() => Promise.reject(new Error('down')))).rejects.toSatisfy(
      isCircuitOpenError,
    );
    expect(seen).toEqual(['error', 'open']);
    expect(breaker.stats()).toMatchObject({ failureCount: 1, rejectedCount: 2 });
    await expect(pool.execute(() => 'free')).resolves.toBe('free');
    breaker.dispose();
  });

  it('is a no-op without policies', async () => {
    await expect(wrap().execute(() => 5)).resolves.toBe(5);
  });
});

describe('protect with a policy', () => {
  class Client {
    calls = 0;
    async charge(amount: number): Promise<number> {
      this.calls++;
      await new Promise((r) => setTimeout(r, 5));
      return amount;
    }
  }

  it('sends every method through the policy', async () => {
    const client = new Client();
    const guarded = protect(client, { policy: bulkhead({ maxConcurrent: 1 }) });
    const first = guarded.charge(1);
    await expect(guarded.charge(2)).rejects.toSatisfy(isBulkheadRejectedError);
    await expect(first).resolves.toBe(1);
    expect(client.calls).toBe(1);
  });

  it('keeps `{ breaker, retry }` and runs a policy given with them outside both', async () => {
    const breaker = createBreaker('protect-both', { failureThreshold: 1, resetTimeoutMs: 60_000 });
    let calls = 0;
    const order: string[] = [];
    const outer: Policy = {
      execute: (fn, signal) => {
        order.push('policy');
        return Promise.resolve(fn(signal ?? new AbortController().signal));
      },
    };
    const flaky = {
      async get(): Promise<string> {
        calls++;
        throw new Error('down');
      },
    };
    const guarded = protect(flaky, { breaker, retry: { maxAttempts: 3, backoff: immediate }, policy: outer });
    await expect(guarded.get()).rejects.toSatisfy(isCircuitOpenError);
    expect(calls).toBe(1); // the open breaker's refusal is not retried
    expect(order).toEqual(['policy']);
    expect(breaker.protectedBy).toEqual(['adapter']);
    breaker.dispose();
  });
});
