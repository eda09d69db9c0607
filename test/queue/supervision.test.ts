import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { describe, expect, it } from 'vitest';
import { createRuntime } from '../../src/runtime/create-runtime.js';
import { testEvents, testLogger } from '../support/events.js';
import { useRuntimes } from '../support/runtime.js';
import { transportCase, transportCases } from '../support/transports.js';
import { poll, until } from '../support/wait.js';

describe.each(transportCases)('queues under supervision on $name', (c) => {
  const { runtime } = useRuntimes(c);

  it('reports each queue as a supervised actor, and readiness waits for its worker', async () => {
    const rt = await runtime();
    const producer = rt.queue('outbox');
    const emails = rt.queue('emails');
    emails.process(() => undefined);
    await Promise.all([producer.ready(), emails.ready()]);
    const report = await rt.health.report();
    expect(report.actors['queue:outbox']).toMatchObject({ kind: 'queue', status: 'running', state: 'idle' });
    expect(report.actors['queue:emails']).toMatchObject({
      kind: 'queue',
      status: 'running',
      state: 'working',
    });
    expect(rt.readiness()).toEqual({ ready: true });
    // A second queue object of the same name is its own child.
    rt.queue('emails');
    expect(Object.keys((await rt.health.report()).actors)).toContain('queue:emails#2');
    await emails.close();
    await until(() => !rt.supervisor.has('queue:emails'), 'the closed queue to leave supervision');
    expect(emails.status()).toBe('closed');
  });
});

describe('a queue whose store cannot be opened (JetStream)', () => {
  it('is reopened with backoff: DEGRADED and not ready meanwhile, working once the store opens', async () => {
    const bus = transportCase('nats').bus();
    const { url, prefix } = bus;
    const nc = await connect({ servers: url });
    const rt = await createRuntime({
      service: 'blocked',
      events: testEvents,
      transport: bus.transport(),
      logger: testLogger,
      handleSignals: false,
    });
    try {
      // Another stream already owns the queue's subjects: provisioning the queue's stream fails.
      const jsm = await jetstreamManager(nc);
      const blocker = `${prefix.toUpperCase()}_BLOCKER`;
      await jsm.streams.add({ name: blocker, subjects: [`${prefix}.q.>`] });
      const q = rt.queue<string>('emails');
      const done: string[] = [];
      q.process((job) => void done.push(job.data));
      const failing = await poll(
        () => rt.health.report(),
        (r) => r.actors['queue:emails']?.status === 'restarting',
        'the queue to be restarting',
      );
      expect(failing.status).toBe('DEGRADED');
      expect(failing.actors['queue:emails']?.lastError?.message).toMatch(/queue emails:/);
      expect(rt.readiness()).toMatchObject({
        ready: false,
        reason: expect.stringMatching(/^queue emails is/),
      });
      await expect(q.add('welcome', 'ada')).rejects.toThrow();

      await jsm.streams.delete(blocker);
      await until(() => q.status() === 'working', 'the reopened queue to work', 15_000);
      await q.add('welcome', 'ada');
      await until(() => done.length === 1, 'the job');
      const healed = await rt.health.report();
      expect(healed.actors['queue:emails']).toMatchObject({ status: 'running', state: 'working' });
      expect(healed.actors['queue:emails']!.restarts).toBeGreaterThanOrEqual(1);
      expect(rt.readiness()).toEqual({ ready: true });
    } finally {
      await rt.shutdown();
      await nc.close();
      await bus.dispose();
    }
  }, 30_000);
});
