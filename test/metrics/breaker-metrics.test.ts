import { afterEach, describe, expect, it } from 'vitest';
import { Breaker } from '../../src/breaker/breaker.js';
import { SAMPLE_EVERY } from '../../src/breaker/options.js';
import { createRuntime } from '../../src/runtime/create-runtime.js';
import type { Runtime } from '../../src/runtime/runtime.js';
import { RuntimeMetrics } from '../../src/metrics/metrics.js';
import { testEvents, testLogger } from '../support/events.js';

const runtimes: Runtime[] = [];
afterEach(async () => {
  await Promise.all(runtimes.splice(0).map((rt) => rt.shutdown()));
});

async function runtime(): Promise<Runtime> {
  const rt = await createRuntime({
    service: 'shop',
    events: testEvents,
    logger: testLogger,
    handleSignals: false,
  });
  runtimes.push(rt as unknown as Runtime);
  return rt as unknown as Runtime;
}

/** The value of one series of `name` whose labels include `labels`; undefined when there is none. */
async function sample(
  rt: { metrics: RuntimeMetrics },
  name: string,
  labels: Record<string, string | number> = {},
  metricName = name,
): Promise<number | undefined> {
  const metric = rt.metrics.registry.getSingleMetric(name);
  if (!metric) throw new Error(`no metric ${name}`);
  const values = (await metric.get()).values as { metricName?: string; labels: object; value: number }[];
  const match = values.find(
    (v) =>
      (v.metricName ?? name) === metricName &&
      Object.entries(labels).every(([k, x]) => (v.labels as Record<string, unknown>)[k] === x),
  );
  return match?.value;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const fail = () => Promise.reject(new Error('down'));
const ok = () => Promise.resolve(1);

describe('breaker metrics', () => {
  it('bulwark_breaker_calls_total adds up every breaker by outcome', async () => {
    const rt = await runtime();
    const a = rt.breaker('a', { failureThreshold: 3, timeoutMs: 20, slowCallMs: 10 });
    const b = rt.breaker('b');
    await a.execute(ok);
    await a.execute(ok);
    await a.execute(async () => (await sleep(12), 1)); // slow, but a success
    await a.execute(ok);
    await a.execute(fail).catch(() => undefined);
    await a
      .execute(
        (signal) => new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))),
      )
      .catch(() => undefined);
    await a.execute(fail).catch(() => undefined); // the third failure in a row opens it
    expect(a.state).toBe('OPEN');
    await a.execute(ok).catch(() => undefined);
    await a.execute(ok).catch(() => undefined);
    await b.execute(ok);
    const calls = (outcome: string) => sample(rt, 'bulwark_breaker_calls_total', { outcome });
    expect(await calls('success')).toBe(5);
    expect(await calls('failure')).toBe(2);
    expect(await calls('timeout')).toBe(1);
    expect(await calls('rejected')).toBe(2);
    expect(await calls('slow')).toBeGreaterThanOrEqual(2); // the slow success and the timeout
    const text = await rt.metrics.text();
    expect(text).toMatch(/^bulwark_breaker_calls_total\{outcome="success",service="shop"\} 5$/m);
    expect(text).not.toMatch(/bulwark_breaker_calls_total\{[^}]*breaker=/);
  });

  it('bulwark_breaker_failure_rate: the window rate of breakers that left CLOSED, none for the others', async () => {
    const rt = await runtime();
    const flaky = rt.breaker('flaky', {
      failureThreshold: 0.5,
      minimumRequests: 4,
      window: { kind: 'count', size: 10 },
    });
    const quiet = rt.breaker('quiet');
    await flaky.execute(ok);
    await flaky.execute(ok);
    await flaky.execute(fail).catch(() => undefined);
    await quiet.execute(fail).catch(() => undefined);
    expect(await sample(rt, 'bulwark_breaker_failure_rate', { breaker: 'flaky' })).toBeUndefined();
    await flaky.execute(fail).catch(() => undefined);
    expect(flaky.state).toBe('OPEN');
    expect(await sample(rt, 'bulwark_breaker_failure_rate', { breaker: 'flaky' })).toBe(0.5);
    expect(await sample(rt, 'bulwark_breaker_failure_rate', { breaker: 'quiet' })).toBeUndefined();
    flaky.reset();
    expect(await sample(rt, 'bulwark_breaker_failure_rate', { breaker: 'flaky' })).toBe(0);
  });

  it('bulwark_breaker_call_duration_seconds: one call in 16 of every breaker, in its bucket', async () => {
    const rt = await runtime();
    const a = rt.breaker('a');
    const b = rt.breaker('b');
    for (let i = 0; i < SAMPLE_EVERY; i++) await a.execute(async () => (await sleep(3), 1));
    for (let i = 0; i < SAMPLE_EVERY; i++) await b.execute(ok);
    const name = 'bulwark_breaker_call_duration_seconds';
    expect(await sample(rt, name, {}, `${name}_count`)).toBe(2);
    const sum = (await sample(rt, name, {}, `${name}_sum`))!;
    expect(sum).toBeGreaterThanOrEqual(0.002);
    expect(sum).toBeLessThan(1);
    expect(await sample(rt, name, { le: 0.001 }, `${name}_bucket`)).toBe(1); // b's sampled call
    expect(await sample(rt, name, { le: '+Inf' }, `${name}_bucket`)).toBe(2);
  });

  it('a sampled call that never settles does not stop the sampling', async () => {
    const rt = await runtime();
    const a = rt.breaker('a');
    for (let i = 1; i < SAMPLE_EVERY; i++) await a.execute(ok);
    void a.execute(() => new Promise(() => undefined)); // the sampled one hangs
    for (let i = 0; i < SAMPLE_EVERY; i++) await a.execute(ok);
    const name = 'bulwark_breaker_call_duration_seconds';
    expect(await sample(rt, name, {}, `${name}_count`)).toBe(1);
  });

  it('bulwark_breakers counts breakers by state', async () => {
    const rt = await runtime();
    rt.breaker('a');
    rt.breaker('b');
    await rt
      .breaker('c', { failureThreshold: 1 })
      .execute(fail)
      .catch(() => undefined);
    expect(await sample(rt, 'bulwark_breakers', { state: 'CLOSED' })).toBe(2);
    expect(await sample(rt, 'bulwark_breakers', { state: 'OPEN' })).toBe(1);
  });
});

describe('bulwark_jobs', () => {
  it("reads each queue's counts when scraped", async () => {
    const rt = await runtime();
    const emails = rt.queue('emails');
    await emails.add('welcome', { to: 'a' });
    await emails.add('welcome', { to: 'b' });
    await emails.add('later', { to: 'c' }, { delayMs: 60_000 });
    expect(await sample(rt, 'bulwark_jobs', { queue: 'emails', state: 'waiting' })).toBe(2);
    expect(await sample(rt, 'bulwark_jobs', { queue: 'emails', state: 'delayed' })).toBe(1);
    await emails.add('welcome', { to: 'd' });
    expect(await rt.metrics.text()).toMatch(
      /^bulwark_jobs\{queue="emails",state="waiting",service="shop"\} 3$/m,
    );
  });
});

describe('a scrape with 100,000 breakers', () => {
  it('blocks the event loop for less than 50 ms', async () => {
    const metrics = new RuntimeMetrics({
      service: 'scale',
      transportStatus: () => ({ kind: 'memory', state: 'connected', connected: true, storing: true }),
    });
    const breakers: Breaker[] = [];
    for (let i = 0; i < 100_000; i++) {
      const b = new Breaker(`b${i}`, undefined, { timings: metrics.breakerTimings });
      metrics.trackBreaker(b);
      breakers.push(b);
    }
    for (let i = 0; i < 50; i++) breakers[i]!.open();
    for (const b of breakers.slice(0, 1_000)) await b.execute(ok).catch(() => undefined);
    await metrics.registry.metrics(); // warm
    const blocked: number[] = [];
    let text = '';
    for (let round = 0; round < 3; round++) {
      const started = performance.now();
      text = await metrics.registry.metrics();
      blocked.push(performance.now() - started);
    }
    blocked.sort((x, y) => x - y);
    expect(blocked[1]).toBeLessThan(50);
    expect(text).toMatch(/^bulwark_breakers\{state="CLOSED",service="scale"\} 99950$/m);
    expect(text).toMatch(/^bulwark_breaker_calls_total\{outcome="success",service="scale"\} 950$/m);
    expect(text).toMatch(/^bulwark_breaker_calls_total\{outcome="rejected",service="scale"\} 50$/m);
    expect(text.match(/^bulwark_breaker_state\{/gm)).toHaveLength(50);
    for (const b of breakers) b.dispose();
  }, 60_000);
});
