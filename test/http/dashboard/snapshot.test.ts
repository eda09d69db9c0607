import { describe, expect, it } from 'vitest';
import { readSnapshot, StatusSince } from '../../../src/http/dashboard/snapshot.js';
import { transportCases } from '../../support/transports.js';
import { useRuntimes } from '../../support/runtime.js';
import { user } from '../../support/events.js';
import { deferred, poll } from '../../support/wait.js';
import { TestClock, PAST_EPOCH } from '../../support/clock.js';
import { createRuntime } from '../../../src/runtime/create-runtime.js';
import { memoryTransport } from '../../../src/transport/memory/memory-transport.js';
import { testEvents, testLogger } from '../../support/events.js';

describe.each(transportCases)('dashboard snapshot on $name', (c) => {
  const { runtime } = useRuntimes(c);

  it('shows a subscriber with its backlog, in-flight work and dead letters, and a queue with its counts', async () => {
    const rt = await runtime('accounts', { handleSignals: false });
    const release = deferred();
    const sub = rt.subscribe(
      'user.created',
      async (u) => {
        if (u.role === 'admin') throw new Error('no admin mails');
        await release.promise;
      },
      { group: 'mailer', concurrency: 1, maxAttempts: 1 },
    );
    await sub.ready;
    await rt.publish('user.created', user('0', 'root', 'admin'));
    await poll(
      () => rt.deadLetters.count(),
      (n) => n === 1,
      'a dead letter',
    );
    for (const id of ['1', '2', '3']) await rt.publish('user.created', user(id));
    const emails = rt.queue('emails');
    await emails.add('welcome', {});
    const read = () => readSnapshot(rt, { adminEnabled: false, since: new StatusSince() });
    const snap = await poll(
      read,
      (s) => s.subscribers[0]?.inFlight === 1 && s.subscribers[0].backlog === 2,
      'backlog 2',
    );
    expect(snap.subscribers).toEqual([
      expect.objectContaining({
        actor: 'subscriber:mailer/user.created',
        status: 'handling',
        active: [
          'subscriber.running',
          'subscriber.running.consuming',
          'subscriber.running.consuming.handling',
        ],
        backlog: 2,
        inFlight: 1,
        deadLetters: 1,
      }),
    ]);
    expect(snap.queues).toEqual([
      expect.objectContaining({ name: 'emails', backlog: 1, inFlight: 0, deadLetters: 0 }),
    ]);
    expect(snap.deadLetters).toBe(1);
    release.resolve();
  });
});

describe("a service card's up time", () => {
  it('counts from when the runtime started, not from when a page first looked', async () => {
    const clock = new TestClock(PAST_EPOCH);
    const rt = await createRuntime({
      service: 'accounts',
      events: testEvents,
      transport: memoryTransport(),
      logger: testLogger,
      handleSignals: false,
      clock,
    });
    rt.health.registerService({
      id: 'payments-api',
      name: 'Payments API',
      circuitBreaker: rt.breaker('payments'),
    });
    clock.advance(90_000);
    const snap = await readSnapshot(rt, { adminEnabled: false, since: new StatusSince() });
    expect(snap.services.find((c) => c.id === 'payments-api')?.uptime).toBe(90_000);
    await rt.shutdown();
  });

  it('restarts at a change of status, from when a read saw it', () => {
    const since = new StatusSince();
    expect(since.uptime('a', 'HEALTHY', 10_000, 1_000)).toBe(9_000);
    expect(since.uptime('a', 'HEALTHY', 12_000, 1_000)).toBe(11_000);
    expect(since.uptime('a', 'DEGRADED', 13_000, 1_000)).toBe(0);
    expect(since.uptime('a', 'DEGRADED', 14_500, 1_000)).toBe(1_500);
  });
});
