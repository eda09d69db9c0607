import { afterEach, describe, expect, it } from 'vitest';
import { isBackpressureError, isPublishTimeoutError, type PublishTimeoutError } from '../../src/errors.js';
import { createRuntime } from '../../src/runtime/create-runtime.js';
import type { Runtime } from '../../src/runtime/runtime.js';
import { natsTransport } from '../../src/transport/nats/nats-transport.js';
import { freePort, startNatsServer, type NatsServerHandle } from '../setup/nats-server.js';
import { testEvents, testLogger, user } from '../support/events.js';
import { poll, waitFor } from '../support/wait.js';
import { uniquePrefix } from '../transport/nats/helpers.js';

// Findings: with the broker frozen (SIGSTOP) health said HEALTHY and ready for 40 s, ~4,980
// publishes rejected with BackpressureError were in fact stored, and `await publish()` hung; with
// the broker down at start-up, `createRuntime` failed instead of starting DEGRADED.

type TestRuntime = Runtime<typeof testEvents.schemas>;

describe('a frozen or absent broker', () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });

  async function runtimeOn(servers: string, prefix: string, extra = {}): Promise<TestRuntime> {
    const rt = await createRuntime({
      service: 'frozen',
      events: testEvents,
      transport: natsTransport({
        servers,
        prefix,
        requestTimeoutMs: 1_000,
        publishTimeoutMs: 3_000,
        ...extra,
      }),
      logger: testLogger,
      handleSignals: false,
      shutdownTimeoutMs: 5_000,
    });
    cleanup.push(() => rt.shutdown());
    return rt;
  }

  async function server(port?: number): Promise<NatsServerHandle> {
    const s = await startNatsServer(port === undefined ? {} : { port });
    cleanup.push(() => s.dispose());
    return s;
  }

  it('frozen: health DEGRADED and not ready within 5 s; every publish settles in its bound, none as backpressure; all stored ones handled after', async () => {
    const srv = await server();
    const rt = await runtimeOn(srv.url, uniquePrefix());
    const handled = new Set<string>();
    await rt.subscribe('user.created', (u) => void handled.add(u.id), { concurrency: 50 }).ready;
    expect((await rt.health.report()).checks.transport?.status).toBe('HEALTHY');
    srv.freeze();
    const frozenAt = Date.now();
    await waitFor(async () => (await rt.health.report()).checks.transport?.status !== 'HEALTHY', {
      timeoutMs: 5_000,
      what: 'the transport check to stop saying HEALTHY',
    });
    expect(Date.now() - frozenAt).toBeLessThan(5_000);
    expect((await rt.health.report()).checks.transport?.status).toBe('DEGRADED');
    expect(rt.readiness().ready).toBe(false);
    const started = Date.now();
    const outcomes = await Promise.allSettled(
      Array.from({ length: 200 }, (_, i) => rt.publish('user.created', user(`f${i}`))),
    );
    expect(Date.now() - started).toBeLessThan(3_000 + 2_000);
    const errors = outcomes.flatMap((o) => (o.status === 'rejected' ? [o.reason as unknown] : []));
    expect(errors.filter(isBackpressureError)).toEqual([]);
    expect(errors.every(isPublishTimeoutError)).toBe(true);
    srv.thaw();
    await waitFor(async () => (await rt.health.report()).checks.transport?.status === 'HEALTHY', {
      timeoutMs: 10_000,
      what: 'the transport check to recover',
    });
    // What was confirmed stored is handled; what timed out "maybe stored" may be handled too.
    const stored = outcomes.flatMap((o, i) => (o.status === 'fulfilled' ? [`f${i}`] : []));
    const maybe = errors.filter((e) => (e as PublishTimeoutError).maybeStored).length;
    await poll(
      async () => stored.every((id) => handled.has(id)),
      (ok) => ok,
      'every stored event handled',
    );
    expect(handled.size).toBeLessThanOrEqual(stored.length + maybe);
  }, 40_000);

  it('absent at start-up: the runtime starts DEGRADED, keeps publishes, and consumes once the broker appears', async () => {
    const port = await freePort();
    const url = `nats://127.0.0.1:${port}`;
    const rt = await runtimeOn(url, uniquePrefix(), { publishTimeoutMs: 20_000 });
    const report = await rt.health.report();
    expect(report.checks.transport?.status).toBe('DEGRADED');
    expect(rt.readiness().ready).toBe(false);
    const handled = new Set<string>();
    const sub = rt.subscribe('user.created', (u) => void handled.add(u.id));
    const published = Promise.all([1, 2, 3].map((i) => rt.publish('user.created', user(String(i)))));
    expect(rt.transport.status().outboxSize).toBe(3);
    await server(port);
    await published;
    await sub.ready;
    await poll(
      async () => handled.size,
      (n) => n === 3,
      'the three events handled',
      15_000,
    );
    await waitFor(async () => (await rt.health.report()).checks.transport?.status === 'HEALTHY', {
      what: 'the transport check to become HEALTHY',
    });
    expect(rt.readiness().ready).toBe(true);
  }, 40_000);
});
