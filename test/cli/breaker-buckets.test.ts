import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeShared, sharedBreakerBucket } from '../../src/breaker/shared-format.js';
import { createRuntime } from '../../src/runtime/create-runtime.js';
import { openNatsKeyValue } from '../../src/transport/nats/key-value.js';
import { natsTransport } from '../../src/transport/nats/nats-transport.js';
import { startNatsServer, type NatsServerHandle } from '../setup/nats-server.js';
import { testEvents, testLogger } from '../support/events.js';
import { until } from '../support/wait.js';
import { json, runCli } from './run-cli.js';

describe('shared breakers: one bucket per prefix, the old shared bucket still read', () => {
  // A server of its own: the old bucket's name is the same for every prefix.
  let server: NatsServerHandle;
  let nc: NatsConnection;
  beforeAll(async () => {
    server = await startNatsServer();
    nc = await connect({ servers: server.url });
  });
  afterAll(async () => {
    await nc?.close();
    await server?.dispose();
  });

  const runtime = (prefix: string) =>
    createRuntime({
      service: 'pay',
      events: testEvents,
      transport: natsTransport({ servers: server.url, prefix }),
      logger: testLogger,
      handleSignals: false,
    });

  it('names the bucket after the prefix; a breaker forced in the old bucket keeps its state, and the CLI finds it', async () => {
    expect(sharedBreakerBucket('shop')).toBe('shop_breakers');
    expect(sharedBreakerBucket()).toBe('bulwark_breakers');
    // Written by a release that kept every prefix's breakers in one bucket.
    const legacy = await openNatsKeyValue(nc, 'bulwark_breakers');
    await legacy.put(
      'pay.stripe',
      encodeShared({ s: 'FORCED_OPEN', at: Date.now(), by: 'old', manual: true }),
    );

    const shop = await runtime('shop');
    const stripe = shop.breaker('stripe', { shared: true });
    await stripe.ready;
    await until(
      () => stripe.stats().state === 'OPEN' && stripe.stats().forced === true,
      'the old forced state',
    );
    const staging = await runtime('staging');
    const other = staging.breaker('adyen', { shared: true });
    await other.ready;
    other.open();
    await until(() => other.stats().state === 'OPEN', 'forced open');

    const jsm = await jetstreamManager(nc);
    const names: string[] = [];
    for await (const s of jsm.streams.list()) names.push(s.config.name);
    expect(names.filter((n) => n.startsWith('KV_')).sort()).toEqual([
      'KV_bulwark_breakers',
      'KV_shop_breakers',
      'KV_staging_breakers',
    ]);

    const listed = (prefix: string) =>
      runCli(['breakers', 'ls', '--json', '--prefix', prefix], { NATS_URL: server.url }).then((r) =>
        json<{ key: string; state: string; bucket: string }[]>(r),
      );
    // The prefix's own bucket first: the adopted copy, not the old one.
    expect(await listed('shop')).toEqual([
      expect.objectContaining({ key: 'pay.stripe', state: 'FORCED_OPEN', bucket: 'shop_breakers' }),
    ]);
    expect(await listed('staging')).toEqual([
      expect.objectContaining({ key: 'pay.adyen', state: 'FORCED_OPEN', bucket: 'staging_breakers' }),
      expect.objectContaining({ key: 'pay.stripe', state: 'FORCED_OPEN', bucket: 'bulwark_breakers' }),
    ]);
    const reset = await runCli(['breakers', 'reset', 'pay.stripe', '--prefix', 'shop'], {
      NATS_URL: server.url,
    });
    expect(reset.code).toBe(0);
    await until(() => stripe.stats().state === 'CLOSED' && !stripe.stats().forced, 'reset by the CLI');
    await Promise.all([shop.shutdown(), staging.shutdown()]);
  }, 60_000);
});
