import { describe, expect, it } from 'vitest';
import { fixed } from '../../src/retry/backoff.js';
import { user } from '../support/events.js';
import { useRuntimes } from '../support/runtime.js';
import { transportCase, transportCases } from '../support/transports.js';
import { deferred, poll, quiet } from '../support/wait.js';

// Findings: an explicit `ackWaitMs` shorter than the handler gave 8 of 10 events twice (no
// `working()` heartbeat for subscribers), and hung handlers that ignore their AbortSignal escaped
// `concurrency` (60 alive under concurrency 1, `inFlight` 0) while health said HEALTHY.

describe('long handlers on nats', () => {
  const { runtime } = useRuntimes(transportCase('nats'));

  it('keeps a delivery leased while its handler runs past the ack wait: each event handled once', async () => {
    const rt = await runtime();
    const runs = new Map<string, number>();
    const sub = rt.subscribe(
      'user.created',
      // The handler's length is the point of the test: three times the ack wait.
      async (u) => {
        runs.set(u.id, (runs.get(u.id) ?? 0) + 1);
        await new Promise((r) => setTimeout(r, 3_000));
      },
      { concurrency: 10, ackWaitMs: 1_000, timeoutMs: 10_000 },
    );
    await sub.ready;
    await rt.publishMany(
      Array.from({ length: 10 }, (_, i) => ({ type: 'user.created', payload: user(String(i)) })),
    );
    await poll(
      async () => sub.stats().handled,
      (n) => n === 10,
      'ten handled',
      20_000,
    );
    await quiet(1_500); // a lapsed lease would be redelivered within one more ack wait
    expect([...runs.values()]).toEqual(Array(10).fill(1));
    expect(sub.stats().received).toBe(10);
  }, 30_000);
});

describe.each(transportCases)('hung handlers on $name', (c) => {
  const { runtime } = useRuntimes(c);

  it('keep their concurrency slot until they return, and make health DEGRADED meanwhile', async () => {
    const rt = await runtime();
    let alive = 0;
    let peak = 0;
    const release = deferred();
    const sub = rt.subscribe(
      'user.created',
      // Ignores its signal: keeps running after its timeout, until the test lets it go.
      async () => {
        peak = Math.max(peak, ++alive);
        await release.promise;
        alive--;
      },
      { concurrency: 1, timeoutMs: 100, maxAttempts: 100, backoff: fixed({ delayMs: 10 }) },
    );
    await sub.ready;
    for (let i = 0; i < 5; i++) await rt.publish('user.created', user(String(i)));
    await poll(
      async () => sub.stats().timeouts,
      (n) => n >= 1,
      'a timeout',
    );
    await quiet(500); // time in which an escaped slot would start more handlers
    expect(peak).toBe(1);
    expect(sub.stats().hung).toBe(1);
    const report = await rt.health.report();
    expect(report.status).toBe('DEGRADED');
    expect(Object.values(report.actors).some((a) => a.state === 'hung')).toBe(true);
    release.resolve();
    await poll(
      async () => sub.stats().hung,
      (n) => n === 0,
      'the hung handler returned',
    );
    expect(peak).toBe(1);
  });
});
