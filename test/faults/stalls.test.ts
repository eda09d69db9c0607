import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { describe, expect, it } from 'vitest';
import { user } from '../support/events.js';
import { useRuntimes } from '../support/runtime.js';
import { transportCase, transportCases } from '../support/transports.js';
import { deferred, poll, waitFor } from '../support/wait.js';

// Findings: a queue with the default `timeoutMs: 0` stalled for good on hung jobs while health said
// HEALTHY, and a service that only publishes never created its deleted events stream again (its
// publishes hung for 26 s).

describe.each(transportCases)('a stalled queue on $name', (c) => {
  const { runtime } = useRuntimes(c);

  it('is reported DEGRADED once its active jobs run on and nothing settles', async () => {
    const rt = await runtime();
    const q = rt.queue('stuck', { concurrency: 2, stalledAfterMs: 300 });
    const never = deferred();
    q.process(() => never.promise); // hung: no timeoutMs, the handler never returns
    await q.addBulk([
      { name: 'a', data: 1 },
      { name: 'b', data: 2 },
      { name: 'c', data: 3 },
    ]);
    await waitFor(() => q.status() === 'stalled', { what: 'the queue to say it is stalled' });
    const report = await rt.health.report();
    expect(report.status).toBe('DEGRADED');
    expect(Object.values(report.actors).some((a) => a.kind === 'queue' && a.state === 'stalled')).toBe(true);
    never.resolve();
    await poll(
      () => q.counts(),
      (n) => n.completed === 3,
      'every job completed',
    );
    expect(q.status()).toBe('working');
  });
});

describe('a publish-only service on nats', () => {
  const { runtime, bus } = useRuntimes(transportCase('nats'));

  it('creates its deleted events stream again and keeps publishing', async () => {
    const rt = await runtime();
    await rt.publish('user.created', user('before'));
    const nc = await connect({ servers: bus().url });
    try {
      const jsm = await jetstreamManager(nc);
      await jsm.streams.delete(`${bus().prefix.toUpperCase()}_EVENTS`);
      const receipt = await rt.publish('user.created', user('after'));
      expect(receipt.id).toBeTruthy();
      expect((await jsm.streams.info(`${bus().prefix.toUpperCase()}_EVENTS`)).state.messages).toBe(1);
    } finally {
      await nc.close();
    }
  }, 20_000);
});
