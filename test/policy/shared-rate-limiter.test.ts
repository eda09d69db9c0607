import { randomUUID } from 'node:crypto';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { isRateLimitedError, TransportError } from '../../src/errors.js';
import { SharedRateLimiter, SHARED_LIMIT_BUCKET } from '../../src/policy/index.js';
import type { KeyValueStore } from '../../src/transport/key-value.js';
import { MemoryKeyValue } from '../../src/transport/memory/key-value.js';
import { TestClock } from '../support/clock.js';
import { useRuntimes } from '../support/runtime.js';
import { transportCases } from '../support/transports.js';

/** What a limiter's calls came to: 'ok' or the retryAfterMs of a refusal. */
async function outcomes(limiter: SharedRateLimiter, n: number): Promise<(string | number)[]> {
  const out: (string | number)[] = [];
  for (let i = 0; i < n; i++) {
    out.push(
      await limiter
        .execute(() => 'ok')
        .catch((e: unknown) => {
          if (isRateLimitedError(e)) return e.retryAfterMs;
          throw e;
        }),
    );
  }
  return out;
}

describe.each(transportCases)('a shared rate limiter on $name', (c) => {
  const { runtime } = useRuntimes(c);

  it('without `shared`, limits this process only; refuses to make one after shutdown', async () => {
    const a = await runtime('checkout');
    const b = await runtime('billing');
    const limitA = a.rateLimiter({ limit: 1, intervalMs: 600_000 });
    const limitB = b.rateLimiter({ limit: 1, intervalMs: 600_000 });
    await expect(limitA.execute(() => 'a')).resolves.toBe('a');
    await expect(limitB.execute(() => 'b')).resolves.toBe('b');
    await expect(limitA.execute(() => 'again')).rejects.toSatisfy(isRateLimitedError);
    await a.shutdown();
    expect(() => a.rateLimiter({ limit: 1, intervalMs: 1_000, shared: 'x' })).toThrow(/shut down/);
  });

  it('spends one budget across two runtimes', async () => {
    const a = await runtime('checkout');
    const b = await runtime('billing');
    const shared = `stripe-${randomUUID().slice(0, 8)}`;
    const limitA = a.rateLimiter({ limit: 4, intervalMs: 600_000, shared });
    const limitB = b.rateLimiter({ limit: 4, intervalMs: 600_000, shared });
    expect(await outcomes(limitA, 3)).toEqual(['ok', 'ok', 'ok']);
    const [last, refused] = await outcomes(limitB, 2);
    expect(last).toBe('ok');
    expect(refused).toBeGreaterThan(0);
    expect(refused).toBeLessThanOrEqual(150_000);
    const [again] = await outcomes(limitA, 1);
    expect(typeof again).toBe('number');
    expect(limitA.stats()).toMatchObject({
      granted: 3,
      rejected: 1,
      shared: { mode: 'shared', degradations: 0 },
    });
    expect(limitB.stats()).toMatchObject({ granted: 1, rejected: 1, shared: { mode: 'shared' } });
  });
});

/** A bucket that can be made unreachable: every operation then fails, or never answers. */
function flakyBucket(): { store: KeyValueStore; state: { mode: 'up' | 'down' | 'silent' } } {
  const inner = new MemoryKeyValue(SHARED_LIMIT_BUCKET);
  const state = { mode: 'up' as 'up' | 'down' | 'silent' };
  const store = new Proxy(inner, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        if (state.mode === 'down') return Promise.reject(new TransportError('bucket unreachable'));
        if (state.mode === 'silent') return new Promise(() => undefined);
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { store, state };
}

describe('a shared rate limiter whose bucket is unreachable', () => {
  it('logs, counts, limits locally, and goes back to the shared budget once the bucket answers', async () => {
    const clock = new TestClock(1_000_000);
    const { store, state } = flakyBucket();
    const lines: { level: number; msg: string }[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line)) });
    const env = { keyValue: async () => store, clock, logger };
    const peer = new SharedRateLimiter({ limit: 2, intervalMs: 10_000, shared: 'stripe' }, env);
    const limiter = new SharedRateLimiter({ limit: 2, intervalMs: 10_000, shared: 'stripe' }, env);
    expect(await outcomes(peer, 2)).toEqual(['ok', 'ok']);
    expect(await outcomes(limiter, 1)).toEqual([5_000]);
    state.mode = 'down';
    // The last value read says the budget is spent: a refusal needs no round trip.
    expect(await outcomes(limiter, 1)).toEqual([5_000]);
    expect(limiter.stats().shared.mode).toBe('shared');
    // Once a token is due, taking it needs the bucket: the local budget (its own, full) decides.
    clock.advance(5_000);
    expect(await outcomes(limiter, 3)).toEqual(['ok', 'ok', 5_000]);
    expect(limiter.stats().shared).toEqual({ mode: 'local', degradations: 1, localCalls: 3 });
    expect(lines.filter((l) => l.level === 40).map((l) => l.msg)).toEqual([
      'rate limit bucket unreachable: limiting locally',
    ]);
    state.mode = 'up';
    clock.advance(1_000); // the first retry of the bucket is due after 1 s
    // The shared budget again: 6 s of drip since the peer spent it, one token and 2 s towards the next.
    expect(await outcomes(limiter, 2)).toEqual(['ok', 4_000]);
    expect(limiter.stats().shared.mode).toBe('shared');
    expect(lines.some((l) => l.msg === 'rate limit bucket reachable again: limiting across instances')).toBe(
      true,
    );
  });

  it('counts a bucket slower than kvTimeoutMs as unreachable', async () => {
    const clock = new TestClock(0);
    const { store, state } = flakyBucket();
    const limiter = new SharedRateLimiter(
      { limit: 1, intervalMs: 1_000, shared: 'slow', kvTimeoutMs: 200 },
      { keyValue: async () => store, clock },
    );
    state.mode = 'silent';
    const call = limiter.execute(() => 'local');
    await new Promise((r) => setImmediate(r));
    clock.advance(200);
    await expect(call).resolves.toBe('local');
    expect(limiter.stats().shared).toMatchObject({ mode: 'local', degradations: 1 });
    expect(clock.pending).toBe(0);
  });

  it('limits locally when the bucket cannot even be opened', async () => {
    const limiter = new SharedRateLimiter(
      { limit: 1, intervalMs: 60_000, shared: 'closed' },
      { keyValue: () => Promise.reject(new TransportError('no JetStream')), clock: new TestClock(0) },
    );
    expect(await outcomes(limiter, 2)).toEqual(['ok', 60_000]);
    expect(limiter.stats().shared).toMatchObject({ mode: 'local', degradations: 1, localCalls: 2 });
  });
});
