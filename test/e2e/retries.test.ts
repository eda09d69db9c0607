import { describe, expect, it } from 'vitest';
import { fixed, linear } from '../../src/retry/backoff.js';
import { user } from '../support/events.js';
import { useRuntimes } from '../support/runtime.js';
import { poll, until } from '../support/wait.js';
import { transportCases } from '../support/transports.js';

describe.each(transportCases)('retries and dead letters on $name', (c) => {
  const { runtime } = useRuntimes(c);

  it('retries a failing handler after each backoff delay, then succeeds', async () => {
    const rt = await runtime();
    const attempts: { attempt: number; at: number }[] = [];
    await rt.subscribe(
      'user.created',
      (_p, meta) => {
        attempts.push({ attempt: meta.attempt, at: performance.now() });
        if (meta.attempt < 3) throw new Error(`fail ${meta.attempt}`);
      },
      { maxAttempts: 4, backoff: linear({ initialMs: 150, stepMs: 150, jitter: 'none' }) },
    ).ready;
    await rt.publish('user.created', user('1'));
    await until(() => attempts.length === 3, 'three attempts');
    expect(attempts.map((a) => a.attempt)).toEqual([1, 2, 3]);
    const gaps = [attempts[1]!.at - attempts[0]!.at, attempts[2]!.at - attempts[1]!.at];
    // never early; late by at most the broker's scheduling granularity
    expect(gaps[0]).toBeGreaterThanOrEqual(145);
    expect(gaps[1]).toBeGreaterThanOrEqual(295);
    expect(gaps[0]).toBeLessThan(150 + 1_000);
    expect(gaps[1]).toBeLessThan(300 + 1_000);
    expect(await rt.deadLetters.list()).toEqual([]);
  });

  it('dead-letters after maxAttempts with reason, error, attempts and group', async () => {
    const rt = await runtime();
    let calls = 0;
    await rt.subscribe(
      'user.created',
      () => {
        calls++;
        throw new TypeError('smtp down');
      },
      { group: 'mailer', maxAttempts: 3, backoff: fixed({ delayMs: 10 }) },
    ).ready;
    const { id } = await rt.publish('user.created', user('1', 'ada'));
    await until(() => calls === 3, 'three attempts');
    const dead = await poll(
      () => rt.deadLetters.list({ type: 'user.created' }),
      (d) => d.length === 1,
      'dead letter',
    );
    const dl = dead[0]!;
    expect(dl).toMatchObject({
      reason: 'handler',
      attempts: 3,
      group: 'mailer',
      error: { name: 'TypeError', message: 'smtp down' },
    });
    expect(dl.event).toMatchObject({ id, type: 'user.created', source: 'accounts', data: user('1', 'ada') });
    expect(Date.parse(dl.failedAt)).not.toBeNaN();
    expect(calls).toBe(3);
  });

  it('fails an attempt that runs past timeoutMs and dead-letters it with reason timeout', async () => {
    const rt = await runtime();
    const signals: AbortSignal[] = [];
    await rt.subscribe(
      'user.created',
      // Runs until its signal aborts, as a well-behaved handler does (one that ignores it keeps its
      // slot until it returns: test/faults/handlers.test.ts).
      (_p, meta) => {
        signals.push(meta.signal);
        return new Promise((_, reject) =>
          meta.signal.addEventListener('abort', () => reject(meta.signal.reason)),
        );
      },
      { maxAttempts: 2, timeoutMs: 100, backoff: fixed({ delayMs: 10 }) },
    ).ready;
    const started = performance.now();
    await rt.publish('user.created', user('1'));
    const dead = await poll(
      () => rt.deadLetters.list(),
      (d) => d.length === 1,
      'timeout dead letter',
    );
    expect(performance.now() - started).toBeGreaterThanOrEqual(200);
    expect(dead[0]).toMatchObject({ reason: 'timeout', attempts: 2, error: { name: 'TimeoutError' } });
    expect(signals).toHaveLength(2);
    expect(signals.every((s) => s.aborted)).toBe(true);
  });

  it('acks events the filter rejects without running or retrying the handler', async () => {
    const rt = await runtime();
    const handled: string[] = [];
    const sub = rt.subscribe('user.created', (p) => void handled.push(p.id), {
      filter: (p) => p.role !== 'admin',
      maxAttempts: 2,
    });
    await sub.ready;
    await rt.publish('user.created', user('1', 'root', 'admin'));
    await rt.publish('user.created', user('2', 'ada', 'user'));
    await until(() => handled.length === 1 && sub.stats().filtered === 1, 'filter and handle');
    expect(handled).toEqual(['2']);
    expect(sub.stats()).toMatchObject({ received: 2, filtered: 1, handled: 1, retried: 0 });
    expect(await rt.deadLetters.count()).toBe(0);
  });
});
