import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { createRuntime } from '../../../src/runtime/create-runtime.js';
import { natsPresence } from '../../../src/transport/nats/discovery.js';
import { natsTransport } from '../../../src/transport/nats/nats-transport.js';
import type { Transport } from '../../../src/transport/transport.js';
import { testEvents, testLogger } from '../../support/events.js';
import { dropStreams, uniquePrefix } from './helpers.js';
import { poll, until } from '../../support/wait.js';

const connections: NatsConnection[] = [];
afterEach(async () => {
  await Promise.all(connections.splice(0).map((nc) => nc.close()));
});

async function nc(): Promise<NatsConnection> {
  const c = await connect({ servers: inject('natsUrl') });
  connections.push(c);
  return c;
}

/** The NATS transport with presence on a side connection (what the transport offers once wired). */
/** The NATS transport as users get it: its presence is its own connection's. */
async function withPresence(prefix: string): Promise<Transport> {
  return natsTransport({ servers: inject('natsUrl'), prefix });
}

describe('service discovery over the $SRV micro protocol', () => {
  it('answers PING, INFO and STATS as a NATS micro service, with health as STATS data', async () => {
    const name = `svc_${uniquePrefix().replace(/\W/g, '_')}`;
    const presence = natsPresence(await nc(), 'bw');
    const ad = await presence.advertise({
      name,
      id: 'i1',
      version: '1.2.3',
      description: 'test',
      health: async () => ({ status: 'HEALTHY' }),
    });
    const client = await nc();
    const ask = async (subject: string) =>
      JSON.parse(
        new TextDecoder().decode((await client.request(subject, undefined, { timeout: 2_000 })).data),
      ) as Record<string, unknown>;
    expect(await ask(`$SRV.PING.${name}`)).toMatchObject({
      type: 'io.nats.micro.v1.ping_response',
      name,
      id: 'i1',
      version: '1.2.3',
    });
    expect(await ask(`$SRV.INFO.${name}.i1`)).toMatchObject({
      type: 'io.nats.micro.v1.info_response',
      description: 'test',
      endpoints: [{ name: 'health', subject: `bw.svc.${name}.i1.health` }],
    });
    const stats = await ask(`$SRV.STATS.${name}`);
    expect(stats).toMatchObject({
      type: 'io.nats.micro.v1.stats_response',
      endpoints: [{ name: 'health', data: { status: 'HEALTHY' } }],
    });
    expect(await ask(`bw.svc.${name}.i1.health`)).toEqual({ status: 'HEALTHY' });
    expect(await presence.discover(name, 300)).toEqual([
      expect.objectContaining({ name, id: 'i1', version: '1.2.3', health: { status: 'HEALTHY' } }),
    ]);
    await ad.stop();
    expect(await presence.discover(name, 200)).toEqual([]);
  });

  it('rt.discover lists the live instances of a service with their health; shutdown withdraws them', async () => {
    const prefix = uniquePrefix();
    const service = `accounts_${prefix.replace(/\W/g, '_')}`;
    const opts = { service, events: testEvents, logger: testLogger, handleSignals: false, version: '2.0.0' };
    const a = await createRuntime({ ...opts, transport: await withPresence(prefix) });
    const b = await createRuntime({ ...opts, transport: await withPresence(prefix) });
    try {
      const found = await poll(
        () => a.discover(service, 300),
        (l) => l.length === 2,
        'two instances',
      );
      const ids = [(await a.health.report()).instance, (await b.health.report()).instance];
      expect(found.map((i) => i.id).sort()).toEqual(ids.sort());
      expect(
        found.every((i) => i.version === '2.0.0' && (i.health as { status: string }).status === 'HEALTHY'),
      ).toBe(true);
      await b.shutdown();
      expect(await a.discover(service, 300)).toHaveLength(1);
    } finally {
      await Promise.all([a.shutdown(), b.shutdown()]);
      await dropStreams(inject('natsUrl'), prefix);
    }
  });

  it('health changes are published on <prefix>.health.<service>', async () => {
    const prefix = uniquePrefix();
    const watcher = await nc();
    const seen: { subject: string; status: string }[] = [];
    watcher.subscribe(`${prefix}.health.>`, {
      callback: (_e, m) =>
        void seen.push({ subject: m.subject, status: m.json<{ status: string }>().status }),
    });
    await watcher.flush();
    const rt = await createRuntime({
      service: 'watched',
      events: testEvents,
      logger: testLogger,
      handleSignals: false,
      transport: await withPresence(prefix),
    });
    try {
      rt.health.register({ name: 'db', critical: true, check: () => ({ healthy: true }) });
      await rt.health.report();
      rt.health.setOverride('UNHEALTHY', 'maintenance', 'db');
      await rt.health.report();
      await until(() => seen.length >= 1, 'a health notice');
      expect(seen[0]).toEqual({ subject: `${prefix}.health.watched`, status: 'UNHEALTHY' });
    } finally {
      await rt.shutdown();
      await dropStreams(inject('natsUrl'), prefix);
    }
  });
});
