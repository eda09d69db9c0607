import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { createRuntime } from '../../src/runtime/create-runtime.js';
import { memoryTransport } from '../../src/transport/memory/memory-transport.js';
import { fixed } from '../../src/retry/backoff.js';
import { testEvents, testLogger, user } from '../support/events.js';
import { poll, until } from '../support/wait.js';
import { RuntimeMetrics } from '../../src/metrics/metrics.js';

const hasPromtool = spawnSync('promtool', ['--version']).status === 0;

async function busyRuntime() {
  const rt = await createRuntime({
    service: 'accounts',
    events: testEvents,
    transport: memoryTransport(),
    logger: testLogger,
    handleSignals: false,
  });
  let handled = 0;
  await rt.subscribe(
    'user.created',
    (p) => {
      if (p.role === 'admin') throw new Error('no admins');
      handled++;
    },
    { maxAttempts: 2, backoff: fixed({ delayMs: 1 }) },
  ).ready;
  await rt.publish('user.created', user('1'));
  await rt.publish('user.created', user('2', 'root', 'admin'));
  await until(() => handled === 1, 'handled');
  await poll(
    () => rt.deadLetters.list(),
    (d) => d.length === 1,
    'dead letter',
  );
  const stripe = rt.breaker('stripe', { failureThreshold: 1, resetTimeoutMs: 60_000 });
  await stripe.execute(() => Promise.reject(new Error('down'))).catch(() => undefined);
  rt.metrics.recordJob('emails', 'completed', 12);
  rt.metrics.recordJobCounts('emails', { waiting: 3, active: 1 });
  return rt;
}

describe('metrics', () => {
  it('counts events, handler durations, breaker state and transitions, jobs — all labelled by service', async () => {
    const rt = await busyRuntime();
    const text = await rt.metrics.text();
    const line = (re: RegExp) => text.split('\n').find((l) => re.test(l)) ?? `no line matches ${re}\n${text}`;
    expect(line(/^bulwark_events_published_total\{type="user.created",service="accounts"\}/)).toMatch(/ 2$/);
    expect(line(/^bulwark_events_handled_total\{.*group="accounts".*\}/)).toMatch(/ 1$/);
    expect(line(/^bulwark_events_failed_total\{.*reason="handler"/)).toBeDefined();
    expect(line(/^bulwark_events_dead_lettered_total\{/)).toMatch(/ 1$/);
    expect(line(/^bulwark_handler_duration_seconds_count\{/)).toMatch(/ 1$/);
    expect(line(/^bulwark_breaker_state\{breaker="stripe",service="accounts"\}/)).toMatch(/ 2$/);
    expect(line(/^bulwark_breaker_transitions_total\{breaker="stripe",from="CLOSED",to="OPEN"/)).toMatch(
      / 1$/,
    );
    expect(line(/^bulwark_transport_connected\{transport="memory",service="accounts"\}/)).toMatch(/ 1$/);
    expect(line(/^bulwark_jobs\{queue="emails",state="waiting"/)).toMatch(/ 3$/);
    expect(line(/^bulwark_job_duration_seconds_count\{.*queue="emails".*outcome="completed"/)).toMatch(/ 1$/);
    for (const l of text.split('\n').filter((x) => x && !x.startsWith('#')))
      expect(l).toMatch(/service="accounts"/);
    await rt.shutdown();
  });

  it('job attempts by outcome, and their run times in buckets; a dead job that never ran has no run time', async () => {
    const metrics = new RuntimeMetrics({
      service: 's',
      transportStatus: () => ({ kind: 'memory', connected: true, state: 'connected', storing: true }),
    });
    const o = metrics.queueObserver;
    o.onCompleted?.('emails', 3, 1);
    o.onCompleted?.('emails', 20, 1);
    o.onFailed?.('emails', 2, 1, 'handler');
    o.onDead?.('emails', 3, 'handler');
    o.onCompleted?.('sms', 7_000, 1);
    const text = await metrics.text();
    const value = (series: string): number | undefined => {
      const l = text.split('\n').find((x) => x.startsWith(series));
      return l === undefined ? undefined : Number(l.slice(l.lastIndexOf(' ') + 1));
    };
    const e = (outcome: string) => `queue="emails",outcome="${outcome}"`;
    expect(value(`bulwark_jobs_total{${e('completed')},service="s"}`)).toBe(2);
    expect(value(`bulwark_jobs_total{${e('failed')},service="s"}`)).toBe(1);
    expect(value(`bulwark_jobs_total{${e('dead')},service="s"}`)).toBe(1);
    expect(value(`bulwark_job_duration_seconds_bucket{${e('completed')},le="0.005",service="s"}`)).toBe(1);
    expect(value(`bulwark_job_duration_seconds_bucket{${e('completed')},le="0.01",service="s"}`)).toBe(1);
    expect(value(`bulwark_job_duration_seconds_bucket{${e('completed')},le="0.05",service="s"}`)).toBe(2);
    expect(value(`bulwark_job_duration_seconds_bucket{${e('completed')},le="+Inf",service="s"}`)).toBe(2);
    expect(value(`bulwark_job_duration_seconds_sum{${e('completed')},service="s"}`)).toBeCloseTo(0.023);
    expect(value(`bulwark_job_duration_seconds_count{${e('failed')},service="s"}`)).toBe(1);
    expect(
      value(`bulwark_job_duration_seconds_bucket{queue="sms",outcome="completed",le="5",service="s"}`),
    ).toBe(0);
    expect(
      value(`bulwark_job_duration_seconds_bucket{queue="sms",outcome="completed",le="10",service="s"}`),
    ).toBe(1);
    expect(text).not.toMatch(/bulwark_job_duration_seconds_count\{[^}]*outcome="dead"/);
  });

  it('two runtimes in one process keep their own registries', async () => {
    const a = await createRuntime({
      service: 'a',
      events: testEvents,
      logger: testLogger,
      handleSignals: false,
    });
    const b = await createRuntime({
      service: 'b',
      events: testEvents,
      logger: testLogger,
      handleSignals: false,
    });
    await a.publish('user.created', user('1'));
    expect(await a.metrics.text()).toMatch(
      /bulwark_events_published_total\{type="user.created",service="a"\} 1/,
    );
    expect(await b.metrics.text()).not.toMatch(/service="a"/);
    await Promise.all([a.shutdown(), b.shutdown()]);
  });

  it.runIf(hasPromtool)(
    "/metrics output passes Prometheus' own parser (promtool check metrics)",
    async () => {
      const rt = await busyRuntime();
      const server = await rt.listen();
      const body = await (await fetch(`${server.url}/metrics`)).text();
      const check = spawnSync('promtool', ['check', 'metrics'], { input: body, encoding: 'utf8' });
      expect(check.stdout + check.stderr).toBe('');
      expect(check.status).toBe(0);
      await rt.shutdown();
    },
  );
});
