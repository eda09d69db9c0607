import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { createRuntime } from '../../src/runtime/create-runtime.js';
import { memoryTransport } from '../../src/transport/memory/memory-transport.js';
import { fixed } from '../../src/retry/backoff.js';
import { testEvents, testLogger, user } from '../support/events.js';
import { poll, until } from '../support/wait.js';

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
