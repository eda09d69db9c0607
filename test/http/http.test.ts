import { describe, expect, it } from 'vitest';
import { cacheWarmer } from '../support/machines.js';
import { createRuntime } from '../../src/runtime/create-runtime.js';
import { memoryTransport } from '../../src/transport/memory/memory-transport.js';
import type { ConsumerSpec, DeliverySink, Transport } from '../../src/transport/transport.js';
import { fixed } from '../../src/retry/backoff.js';
import { testEvents, testLogger, user } from '../support/events.js';
import { deferred, poll, until } from '../support/wait.js';

async function runtime(service = 'accounts', transport: Transport = memoryTransport()) {
  return createRuntime({ service, events: testEvents, transport, logger: testLogger, handleSignals: false });
}

/** A memory transport whose consumers become ready only when the test opens the gate. */
function gatedTransport(gate: Promise<void>): Transport {
  const inner = memoryTransport();
  return Object.assign(Object.create(inner) as Transport, {
    consume: (spec: ConsumerSpec, sink: DeliverySink) => {
      const handle = inner.consume(spec, sink);
      return { ready: gate.then(() => handle.ready), stop: () => handle.stop() };
    },
  });
}

const get = async (url: string, headers: Record<string, string> = {}) => {
  const res = await fetch(url, { headers });
  return { status: res.status, type: res.headers.get('content-type'), body: await res.text() };
};

describe('HTTP endpoints', () => {
  it('/health/ready flips: 503 until every subscriber consumes, 200 while consuming, 503 once shutdown begins', async () => {
    const gate = deferred();
    const rt = await runtime('accounts', gatedTransport(gate.promise));
    const server = await rt.listen();
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const release = deferred();
    const sub = rt.subscribe('user.created', () => release.promise);
    expect(rt.readiness()).toMatchObject({ ready: false, reason: expect.stringMatching(/starting/) });
    expect((await get(`${server.url}/health/ready`)).status).toBe(503);
    gate.resolve();
    await sub.ready;
    const ready = await get(`${server.url}/health/ready`);
    expect(ready.status).toBe(200);
    expect(JSON.parse(ready.body)).toEqual({ status: 'READY', ready: true });
    expect((await get(`${server.url}/health/live`)).status).toBe(200);

    await rt.publish('user.created', user('1'));
    await until(() => sub.stats().inFlight === 1, 'handler in flight');
    const closing = rt.shutdown();
    expect(rt.readiness()).toEqual({ ready: false, reason: 'shutting down' });
    release.resolve();
    await closing;
    await expect(fetch(`${server.url}/health/live`)).rejects.toThrow();
  });

  it('/health serves the report, 503 when UNHEALTHY, with supervised actors in it', async () => {
    const rt = await runtime();
    const server = await rt.listen();
    await rt.subscribe('user.created', () => undefined).ready;
    const crasher = cacheWarmer();
    const child = rt.spawn(crasher, {
      id: 'crasher',
      restart: { maxRestarts: 1, withinMs: 60_000, backoff: fixed({ delayMs: 1 }) },
    });
    const ok = await get(`${server.url}/health`);
    expect(ok.status).toBe(200);
    const report = JSON.parse(ok.body);
    expect(report).toMatchObject({ status: 'HEALTHY', service: 'accounts', version: '0.0.0' });
    expect(report.actors).toMatchObject({
      'subscriber:accounts/user.created': { status: 'running', restarts: 0, state: 'consuming' },
      crasher: { status: 'running', restarts: 0 },
    });
    child.send({ type: 'crash' });
    await until(() => child.restarts === 1, 'restart');
    child.send({ type: 'crash' });
    const bad = await poll(
      () => get(`${server.url}/health`),
      (r) => r.status === 503,
      'UNHEALTHY',
    );
    expect(JSON.parse(bad.body)).toMatchObject({
      status: 'UNHEALTHY',
      actors: { crasher: { status: 'failed', restarts: 1 } },
    });
    await rt.shutdown();
  });

  it('/metrics requires the read token when one is set; unknown paths are 404', async () => {
    const rt = await runtime();
    const server = await rt.listen({ readToken: 's3cret' });
    expect((await get(`${server.url}/metrics`)).status).toBe(401);
    const m = await get(`${server.url}/metrics`, { authorization: 'Bearer s3cret' });
    expect(m.status).toBe(200);
    expect(m.type).toMatch(/^text\/plain/);
    expect((await get(`${server.url}/nope`)).status).toBe(404);
    expect((await get(`${server.url}/health`)).status).toBe(200);
    await server.close();
    await server.close();
    await rt.shutdown();
  });
});
