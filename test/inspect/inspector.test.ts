import type { AddressInfo } from 'node:net';
import { createWebSocketInspector } from '@statelyai/inspect';
import { describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { cacheWarmer } from '../support/machines.js';
import { createRuntime } from '../../src/runtime/create-runtime.js';
import { fixed } from '../../src/retry/backoff.js';
import { testEvents, testLogger, user } from '../support/events.js';
import { until } from '../support/wait.js';

interface Received {
  type: string;
  sessionId: string;
  name?: string;
  definition?: string;
  snapshot?: { value?: unknown };
  event?: { type?: string };
}

/** A WebSocket receiver on loopback, standing in for the Stately inspector's relay. */
async function receiver() {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((r) => server.once('listening', () => r()));
  const events: Received[] = [];
  server.on('connection', (socket) =>
    socket.on('message', (data: Buffer) => events.push(JSON.parse(data.toString()) as Received)),
  );
  const { port } = server.address() as AddressInfo;
  const close = () => new Promise<void>((r) => server.close(() => r()));
  return { url: `ws://127.0.0.1:${port}`, events, close };
}

const worker = cacheWarmer();

describe('Stately inspector', () => {
  it('receives the machines and states of a running runtime over a WebSocket on loopback', async () => {
    const rx = await receiver();
    const inspector = createWebSocketInspector({ url: rx.url });
    const rt = await createRuntime({
      service: 'inspected',
      events: testEvents,
      logger: testLogger,
      inspect: inspector.inspect,
      handleSignals: false,
    });
    let handled = 0;
    await rt.subscribe('user.created', () => void handled++).ready;
    await rt.publish('user.created', user('1'));
    const warmer = rt.spawn(worker, { id: 'cache-warmer', restart: { backoff: fixed({ delayMs: 5 }) } });
    warmer.send({ type: 'crash' });
    await until(() => warmer.restarts === 1, 'restart');
    warmer.send({ type: 'warmed' });
    const stripe = rt.breaker('stripe', { failureThreshold: 1 });
    await stripe.execute(() => Promise.reject(new Error('down'))).catch(() => undefined);
    await until(() => handled === 1, 'handled');

    const states = (machine: string) =>
      rx.events
        .filter(
          (e) =>
            e.type === '@xstate.snapshot' &&
            rx.events.some(
              (a) =>
                a.sessionId === e.sessionId &&
                a.type === '@xstate.actor' &&
                a.definition?.includes(`"id":"${machine}"`),
            ),
        )
        .map((e) => JSON.stringify(e.snapshot?.value));
    await until(
      () => states('circuitBreaker').includes('"OPEN"') && states('cacheWarmer').includes('"warm"'),
      'inspection events',
      10_000,
    );

    const names = rx.events.filter((e) => e.type === '@xstate.actor').map((e) => e.name);
    expect(names).toEqual(
      expect.arrayContaining([
        'subscriber:inspected/user.created',
        'cache-warmer',
        'supervisor:cache-warmer',
        'breaker:stripe',
      ]),
    );
    expect(states('subscriber')).toEqual(
      expect.arrayContaining(['{"running":{"consuming":"idle"}}', '{"running":{"consuming":"handling"}}']),
    );
    expect(states('supervisor')).toEqual(expect.arrayContaining(['"backingOff"', '"running"']));
    expect(states('cacheWarmer')).toEqual(expect.arrayContaining(['"warming"', '"warm"']));
    expect(states('circuitBreaker')).toEqual(expect.arrayContaining(['"CLOSED"', '"OPEN"']));

    await rt.shutdown();
    inspector.stop();
    await rx.close();
  });
});
