import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { createRuntime } from '../../src/runtime/create-runtime.js';
import { memoryTransport } from '../../src/transport/memory/memory-transport.js';
import { testEvents, testLogger, user } from '../support/events.js';
import { until } from '../support/wait.js';

describe('graceful shutdown', () => {
  it('one process listener per signal serves every runtime and is removed with the last one', async () => {
    const before = process.listenerCount('SIGTERM');
    const beforeInt = process.listenerCount('SIGINT');
    const a = await createRuntime({ service: 'a', events: testEvents, logger: testLogger });
    const b = await createRuntime({ service: 'b', events: testEvents, logger: testLogger });
    const c = await createRuntime({
      service: 'c',
      events: testEvents,
      logger: testLogger,
      handleSignals: false,
    });
    expect(process.listenerCount('SIGTERM')).toBe(before + 1);
    expect(process.listenerCount('SIGINT')).toBe(beforeInt + 1);
    await a.shutdown();
    expect(process.listenerCount('SIGTERM')).toBe(before + 1);
    await Promise.all([b.shutdown(), c.shutdown()]);
    expect(process.listenerCount('SIGTERM')).toBe(before);
    expect(process.listenerCount('SIGINT')).toBe(beforeInt);
  });

  it('runs hooks phase by phase: intake, consumers, jobs, actors, transport', async () => {
    const rt = await createRuntime({
      service: 'p',
      events: testEvents,
      logger: testLogger,
      handleSignals: false,
    });
    const order: string[] = [];
    const hook = (name: string) => async () => void order.push(name);
    rt.onShutdown(hook('transport'), 'transport');
    rt.onShutdown(hook('actors'), 'actors');
    rt.onShutdown(hook('jobs (unphased, first registered)'));
    rt.onShutdown(hook('jobs (unphased, last registered)'));
    rt.onShutdown(hook('intake'), 'intake');
    await rt.subscribe('user.created', () => undefined).ready;
    const sub = rt.listSubscriptions()[0]!;
    rt.onShutdown(async () => void order.push(`consumers: subscriber ${sub.status()}`));
    await rt.shutdown();
    expect(order).toEqual([
      'intake',
      'consumers: subscriber stopped',
      'jobs (unphased, last registered)',
      'jobs (unphased, first registered)',
      'actors',
      'transport',
    ]);
  });

  it('gives up at the deadline and logs what it abandoned', async () => {
    const lines: Record<string, unknown>[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _e, done) {
        for (const l of chunk.toString().split('\n'))
          if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
        done();
      },
    });
    const rt = await createRuntime({
      service: 'stuck',
      events: testEvents,
      transport: memoryTransport(),
      logger: pino({ level: 'info' }, stream),
      handleSignals: false,
      shutdownTimeoutMs: 200,
    });
    let started = 0;
    await rt.subscribe('user.created', () => {
      started++;
      return new Promise(() => undefined);
    }).ready;
    await rt.publish('user.created', user('1'));
    await until(() => started === 1, 'handler stuck');
    const t = performance.now();
    await rt.shutdown();
    expect(performance.now() - t).toBeLessThan(2_000);
    const gaveUp = lines.find((l) => l['msg'] === 'shutdown deadline passed; abandoning');
    expect(gaveUp).toMatchObject({ deadlineMs: 200 });
    expect(gaveUp?.['abandoned']).toEqual(
      expect.arrayContaining([
        'subscriber stuck/user.created (1 in flight)',
        'supervised actors',
        'transport (outbox flush)',
      ]),
    );
  });
});
