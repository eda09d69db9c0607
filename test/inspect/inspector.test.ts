import type { AddressInfo } from 'node:net';
import { createWebSocketInspector } from '@statelyai/inspect';
import { describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { cacheWarmer } from '../support/machines.js';
import { fixed } from '../../src/retry/backoff.js';
import { user } from '../support/events.js';
import { useRuntimes } from '../support/runtime.js';
import { transportCases } from '../support/transports.js';
import { until, waitFor } from '../support/wait.js';

/** What `createWebSocketInspector` sends for each inspection event. */
interface Received {
  type: string;
  sessionId: string;
  name?: string;
  definition?: string;
  snapshot?: { value?: unknown; context?: Record<string, unknown> };
  event?: { type?: string; [k: string]: unknown };
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

/** A state value as one string: `'OPEN'`, `'active'` for `{ active: 'running' }`. */
const top = (value: unknown): string =>
  typeof value === 'string' ? value : Object.keys(value as Record<string, unknown>)[0]!;

/** Consecutive repeats dropped: the states an actor moved through. */
const moves = (values: string[]) => values.filter((v, i) => i === 0 || values[i - 1] !== v);

/** The inspector's view, read by actor id (an id may have several sessions: a job resumed by a worker). */
function view(events: Received[]) {
  const sessions = (id: string) =>
    new Set(events.filter((e) => e.type === '@xstate.actor' && e.name === id).map((e) => e.sessionId));
  return {
    /** The machine definition each session of `id` registered with. */
    definitions: (id: string) =>
      events
        .filter((e) => e.type === '@xstate.actor' && e.name === id)
        .map((e) => (JSON.parse(e.definition ?? '{}') as { id?: string }).id),
    /** Every snapshot of every session of `id` (the first is the one it started or resumed with), in order. */
    states: (id: string) => {
      const s = sessions(id);
      return moves(
        events
          .filter((e) => s.has(e.sessionId) && e.type === '@xstate.snapshot')
          .map((e) => top(e.snapshot?.value)),
      );
    },
    /** The events `id` received, of types starting with `prefix`. */
    received: (id: string, prefix: string) => {
      const s = sessions(id);
      return events
        .filter((e) => e.type === '@xstate.event' && s.has(e.sessionId) && e.event?.type?.startsWith(prefix))
        .map((e) => e.event!);
    },
    lastContext: (id: string) => {
      const s = sessions(id);
      return events.filter((e) => s.has(e.sessionId) && e.snapshot).at(-1)?.snapshot?.context;
    },
  };
}

describe.each(transportCases)('Stately inspector on $name', (c) => {
  const { runtime } = useRuntimes(c);

  it('shows every actor of a running service with its machine, through exactly its states', async () => {
    const rx = await receiver();
    const inspector = createWebSocketInspector({ url: rx.url });
    try {
      const rt = await runtime('inspected', { inspect: inspector.inspect });

      // A job retried twice then completed, and a job that dies.
      const q = rt.queue<string>('inspected-jobs', { backoff: fixed({ delayMs: 50 }), maxAttempts: 3 });
      q.process((job) => {
        if (job.data === 'doomed' || job.attempt < 3) throw new Error(`try ${job.attempt} of ${job.data}`);
        return 'done';
      });
      const { id: lucky } = await q.add('j', 'lucky');
      const { id: doomed } = await q.add('j', 'doomed', { maxAttempts: 2 });

      // A subscriber retrying then dead-lettering.
      const sub = rt.subscribe(
        'user.created',
        () => {
          throw new Error('mailer down');
        },
        { group: 'mailer', maxAttempts: 2, backoff: fixed({ delayMs: 30 }) },
      );
      await sub.ready;
      const { id: eventId } = await rt.publish('user.created', user('1'));

      // A spawned machine.
      const warmer = rt.spawn(cacheWarmer(), { id: 'cache-warmer' });
      warmer.send({ type: 'warmed' });

      await rt.health.report();
      // A breaker CLOSED -> OPEN -> HALF_OPEN -> CLOSED; the supervisor DEGRADED while it is not CLOSED.
      const stripe = rt.breaker('stripe', {
        failureThreshold: 1,
        resetTimeoutMs: 100,
        halfOpenSuccessThreshold: 1,
      });
      await stripe.execute(async () => 'ok');
      await stripe.execute(() => Promise.reject(new Error('down'))).catch(() => undefined);
      expect(rt.supervisor.getSnapshot().value).toBe('DEGRADED');
      await until(() => stripe.state === 'HALF_OPEN', 'the breaker to probe', 5_000);
      await stripe.execute(async () => 'ok');
      expect(rt.supervisor.getSnapshot().value).toBe('HEALTHY');

      await until(() => sub.stats().deadLettered === 1, 'the dead letter', 10_000);
      const job = (id: string) => q.getJob(id).then((j) => j?.state);
      await waitFor(async () => (await job(lucky)) === 'completed' && (await job(doomed)) === 'dead', {
        what: 'the jobs',
        timeoutMs: 15_000,
      });
      // Inspection events travel over a socket: the store can say "completed" before they arrive.
      const arrived = (): boolean => {
        const v = view(rx.events);
        return (
          v.states('breaker:stripe').length === 4 &&
          v.states(`job:inspected-jobs/${lucky}`).at(-1) === 'completed' &&
          v.states(`job:inspected-jobs/${doomed}`).at(-1) === 'dead'
        );
      };
      await until(arrived, 'the last events', 5_000).catch((err: Error) => {
        throw new Error(`${err.message}: ${JSON.stringify(view(rx.events).states('breaker:stripe'))}`);
      });
      const v = view(rx.events);

      // Jobs: one actor per hold, each resumed from the last one's snapshot.
      const luckyId = `job:inspected-jobs/${lucky}`;
      const doomedId = `job:inspected-jobs/${doomed}`;
      expect(new Set(v.definitions(luckyId))).toEqual(new Set(['retryJob']));
      // Each failed try's actor ends `parked` once its snapshot is stored; the next one resumes it.
      expect(v.states(luckyId)).toEqual([
        'active',
        'failed',
        'parked',
        'failed',
        'active',
        'failed',
        'parked',
        'failed',
        'active',
        'completed',
      ]);
      expect(v.definitions(doomedId)).toHaveLength(2);
      expect(v.states(doomedId)).toEqual(['active', 'failed', 'parked', 'failed', 'active', 'dead']);

      expect(v.definitions('breaker:stripe')).toEqual(['circuitBreaker']);
      expect(v.states('breaker:stripe')).toEqual(['CLOSED', 'OPEN', 'HALF_OPEN', 'CLOSED']);
      // The calls that moved its window, batched per event-loop turn (both calls ran in one).
      expect(v.received('breaker:stripe', 'window.recorded')).toEqual([
        expect.objectContaining({ successes: 1, failures: 1 }),
      ]);
      expect(v.lastContext('breaker:stripe')).toMatchObject({ recorded: { successes: 1, failures: 1 } });

      const subscriberId = 'subscriber:mailer/user.created';
      expect(v.definitions(subscriberId)).toEqual(['subscriber']);
      expect(v.received(subscriberId, 'delivery.').map((e) => [e.type, e.eventId, e.attempt])).toEqual([
        ['delivery.attempt', eventId, 1],
        ['delivery.retry', eventId, 1],
        ['delivery.attempt', eventId, 2],
        ['delivery.dead', eventId, 2],
      ]);
      expect(v.received(subscriberId, 'delivery.retry')[0]).toMatchObject({ delayMs: 30 });
      expect(v.lastContext(subscriberId)).toMatchObject({
        deliveries: { attempts: 2, acked: 0, retried: 1, deadLettered: 1 },
      });

      expect(v.definitions('cache-warmer')).toEqual(['cacheWarmer']);
      expect(v.states('cache-warmer')).toEqual(['warming', 'warm']);

      expect(v.definitions('supervisor')).toEqual(['supervisor']);
      const supervisor = v.states('supervisor');
      expect(supervisor.slice(supervisor.indexOf('DEGRADED') - 1)).toEqual([
        'HEALTHY',
        'DEGRADED',
        'HEALTHY',
      ]);

      expect(rt.actors.list({ kind: 'breaker' })).toEqual([
        { id: 'breaker:stripe', kind: 'breaker', machine: 'circuitBreaker', state: 'CLOSED' },
      ]);
    } finally {
      inspector.stop();
      await rx.close();
    }
  });
});
