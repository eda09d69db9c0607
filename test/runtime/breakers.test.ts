import { describe, expect, it } from 'vitest';
import { isCircuitOpenError } from '../../src/errors.js';
import { transportCases } from '../support/transports.js';
import { useRuntimes } from '../support/runtime.js';
import { until } from '../support/wait.js';

const boom = () => Promise.reject(new Error('down'));

describe.each(transportCases)('rt.breaker on $name', (c) => {
  const { runtime } = useRuntimes(c);

  it('returns one breaker per name and lists its stats in rt.breakers.stats()', async () => {
    const rt = await runtime();
    const stripe = rt.breaker('stripe', { failureThreshold: 2, resetTimeoutMs: 60_000 });
    expect(rt.breaker('stripe')).toBe(stripe);
    expect(await stripe.execute(async () => 1)).toBe(1);
    await stripe.execute(boom).catch(() => undefined);
    await stripe.execute(boom).catch(() => undefined);
    const err = await stripe.execute(async () => 1).catch((e: unknown) => e);
    expect(isCircuitOpenError(err)).toBe(true);
    expect(rt.breakers.stats().stripe).toMatchObject({
      name: 'stripe',
      state: 'OPEN',
      successCount: 1,
      failureCount: 2,
    });
    expect(rt.breakers.get('stripe')).toBe(stripe);
  });

  it('shared: true — opened in one instance, rejected in the other', async () => {
    const [a, b] = [await runtime('payments'), await runtime('payments')];
    const opts = { shared: true, failureThreshold: 1, resetTimeoutMs: 60_000 } as const;
    const inA = a.breaker('bank', opts);
    const inB = b.breaker('bank', opts);
    await Promise.all([inA.ready, inB.ready]);
    await inA.execute(boom).catch(() => undefined);
    expect(inA.stats().state).toBe('OPEN');
    await until(() => inB.stats().state === 'OPEN', 'the other instance to see OPEN', 1_000);
    const err = await inB.execute(async () => 1).catch((e: unknown) => e);
    expect(isCircuitOpenError(err)).toBe(true);
  });
});

describe.each(transportCases)('rt.breaker shared before its bucket is attached, on $name', (c) => {
  const { runtime } = useRuntimes(c);

  it('a state change made while connecting still reaches the other instances', async () => {
    const [a, b] = [await runtime('payments'), await runtime('payments')];
    const opts = { shared: true, failureThreshold: 1, resetTimeoutMs: 60_000 } as const;
    const inA = a.breaker('bank', opts);
    await inA.execute(boom).catch(() => undefined);
    expect(inA.stats().state).toBe('OPEN');
    const inB = b.breaker('bank', opts);
    await Promise.all([inA.ready, inB.ready]);
    await until(() => inB.stats().state === 'OPEN', 'the other instance to see OPEN', 1_000);
  });
});
