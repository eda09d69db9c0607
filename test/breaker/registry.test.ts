import { pino } from 'pino';
import { describe, expect, it, vi } from 'vitest';
import { BreakerRegistry, createBreaker, protect, type Breaker } from '../../src/breaker/index.js';
import { isCircuitOpenError, isClosedError } from '../../src/errors.js';
import { fixed } from '../../src/retry/backoff.js';
import { PAST_EPOCH, TestClock } from '../support/clock.js';

const logger = pino({ level: 'silent' });

describe('BreakerRegistry', () => {
  it('get(name) returns one breaker per name, created with the first options', async () => {
    const created: Breaker[] = [];
    const breakers = new BreakerRegistry({ service: 'svc', logger, onCreate: (b) => created.push(b) });
    const a = breakers.get('a', { failureThreshold: 1 });
    expect(breakers.get('a', { failureThreshold: 100 })).toBe(a);
    const b = breakers.get('b');
    expect(created).toEqual([a, b]);
    expect(breakers.list()).toEqual([a, b]);
    await a.execute(() => Promise.reject(new Error('x'))).catch(() => undefined);
    expect(a.state).toBe('OPEN');
    await breakers.close();
  });

  it('stats() gives every breaker by name', async () => {
    const breakers = new BreakerRegistry({ service: 'svc', logger });
    await breakers.get('a').execute(() => Promise.resolve(1));
    breakers.get('b').open();
    const stats = breakers.stats();
    expect(Object.keys(stats)).toEqual(['a', 'b']);
    expect(stats.a).toMatchObject({ name: 'a', state: 'CLOSED', successCount: 1 });
    expect(stats.b).toMatchObject({ name: 'b', state: 'OPEN', forced: true });
    await breakers.close();
  });

  it('close() stops every timer, is idempotent, and refuses new breakers', async () => {
    const clock = new TestClock(PAST_EPOCH);
    const breakers = new BreakerRegistry({ service: 'svc', logger, clock });
    const a = breakers.get('a', { failureThreshold: 1 });
    await a.execute(() => Promise.reject(new Error('x'))).catch(() => undefined);
    expect(clock.pending).toBe(1);
    const closing = breakers.close();
    expect(breakers.close()).toBe(closing);
    await closing;
    expect(clock.pending).toBe(0);
    expect(breakers.list()).toEqual([]);
    let caught: unknown;
    try {
      breakers.get('c');
    } catch (err) {
      caught = err;
    }
    expect(isClosedError(caught)).toBe(true);
  });

  it('passes its inspector to every breaker actor', async () => {
    const seen = new Set<string>();
    const breakers = new BreakerRegistry({
      service: 'svc',
      logger,
      inspect: (ev) => {
        const { actorRef } = ev as { actorRef?: { id?: string } };
        if (actorRef?.id) seen.add(actorRef.id);
      },
    });
    breakers.get('a');
    breakers.get('b');
    // Breaker actors run in a group whose actor the inspector sees too.
    expect([...seen].sort()).toEqual(['breaker:a', 'breaker:b', 'breakerGroup']);
    await breakers.close();
  });

  it('shared: true without a bucket stays local, warns, and says so in stats', async () => {
    const warn = vi.fn();
    const log = pino({ level: 'warn' }, { write: (line: string) => warn(JSON.parse(line)) });
    const breakers = new BreakerRegistry({ service: 'svc', logger: log });
    const b = breakers.get('pay', { shared: true, failureThreshold: 1 });
    await b.ready;
    expect(b.stats().shared).toEqual({ mode: 'local-degraded' });
    expect(warn).toHaveBeenCalled();
    await b.execute(() => Promise.reject(new Error('x'))).catch(() => undefined);
    expect(b.state).toBe('OPEN');
    await breakers.close();
  });
});

class PaymentsClient {
  calls = 0;
  readonly region = 'eu';
  constructor(private readonly failFirst: number) {}
  async charge(amount: number): Promise<string> {
    this.calls++;
    if (this.calls <= this.failFirst) throw new Error(`charge ${this.calls} failed`);
    return `charged ${amount} in ${this.region}`;
  }
}

describe('protect', () => {
  it('routes every method through the breaker, keeping `this` and plain properties', async () => {
    const breaker = createBreaker('payments-1');
    const client = protect(new PaymentsClient(0), { breaker });
    await expect(client.charge(5)).resolves.toBe('charged 5 in eu');
    expect(client.region).toBe('eu');
    expect(client.charge).toBe(client.charge);
    expect(breaker.stats().successCount).toBe(1);
    expect(breaker.protectedBy).toEqual(['PaymentsClient']);
    breaker.dispose();
  });

  it('retries failures through the breaker with the policy', async () => {
    const breaker = createBreaker('payments-2', { failureThreshold: 10 });
    const raw = new PaymentsClient(2);
    const client = protect(raw, { breaker, retry: { maxAttempts: 3, backoff: fixed({ delayMs: 0 }) } });
    await expect(client.charge(7)).resolves.toBe('charged 7 in eu');
    expect(raw.calls).toBe(3);
    expect(breaker.stats()).toMatchObject({ failureCount: 2, successCount: 1 });
    breaker.dispose();
  });

  it('does not retry a refusal of an open breaker', async () => {
    const breaker = createBreaker('payments-3');
    breaker.open();
    const raw = new PaymentsClient(0);
    const client = protect(raw, { breaker, retry: { maxAttempts: 5, backoff: fixed({ delayMs: 0 }) } });
    const err: unknown = await client.charge(1).catch((e: unknown) => e);
    expect(isCircuitOpenError(err)).toBe(true);
    expect(raw.calls).toBe(0);
    expect(breaker.stats().rejectedCount).toBe(1);
    breaker.dispose();
  });

  it('resolves a name to the most recently created breaker, or creates one with defaults', async () => {
    const older = createBreaker('payments-4');
    const newer = createBreaker('payments-4');
    const client = protect(new PaymentsClient(0), { breaker: 'payments-4' });
    await client.charge(1);
    expect(newer.stats().successCount).toBe(1);
    expect(older.stats().successCount).toBe(0);
    const fresh = protect({ ping: async () => 'pong' }, { breaker: 'payments-unknown' });
    await expect(fresh.ping()).resolves.toBe('pong');
    older.dispose();
    newer.dispose();
  });
});
