import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { CloudEvent as SdkCloudEvent, HTTP } from 'cloudevents';
import { afterEach, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { fixed } from '../../../src/retry/backoff.js';
import { createRuntime } from '../../../src/runtime/create-runtime.js';
import { natsTransport } from '../../../src/transport/nats/nats-transport.js';
import type { Transport } from '../../../src/transport/transport.js';
import { testEvents, testLogger, user } from '../../support/events.js';
import { waitFor } from '../../support/wait.js';
import { cloudEvent, dropStreams, uniquePrefix } from './helpers.js';

const url = inject('natsUrl');

describe('runtime on NATS', () => {
  let prefix: string;
  let transport: Transport;
  const stops: (() => Promise<void>)[] = [];

  async function runtime() {
    prefix = uniquePrefix();
    transport = natsTransport({ servers: url, prefix });
    const rt = await createRuntime({
      service: 'accounts',
      events: testEvents,
      transport,
      logger: testLogger,
    });
    stops.push(() => rt.shutdown());
    return rt;
  }

  afterEach(async () => {
    for (const stop of stops.splice(0)) await stop();
    await dropStreams(url, prefix);
  });

  it('(c) 10% poison events: published = handled + dead-lettered, exactly, with reasons', async () => {
    const rt = await runtime();
    const handled = new Set<string>();
    let calls = 0;
    const sub = rt.subscribe(
      'user.created',
      (p) => {
        if (p.role === 'admin') throw new Error(`poison ${p.id}`);
        calls++;
        handled.add(p.id);
      },
      { concurrency: 50, maxAttempts: 2, backoff: fixed({ delayMs: 10 }) },
    );
    await sub.ready;
    const total = 1_000;
    const good = Array.from({ length: 900 }, (_, i) => ({
      type: 'user.created' as const,
      payload: user(`g${i}`),
    }));
    const throwing = Array.from({ length: 50 }, (_, i) => ({
      type: 'user.created' as const,
      payload: user(`p${i}`, 'poison', 'admin'),
    }));
    await rt.publishMany([...good, ...throwing]);
    // Invalid on receipt: a structured CloudEvent whose data fails the schema, from outside bulwark.
    for (let i = 0; i < 50; i++) {
      await transport.publishRaw('user.created', JSON.stringify(cloudEvent('user.created', { id: i })));
    }
    await waitFor(async () => handled.size + (await rt.deadLetters.count()) >= total, {
      timeoutMs: 30_000,
      what: 'every event handled or dead-lettered',
    });
    const dead = await rt.deadLetters.list({ limit: 1_000 });
    const reasons = dead.reduce<Record<string, number>>(
      (acc, d) => ({ ...acc, [d.reason]: (acc[d.reason] ?? 0) + 1 }),
      {},
    );
    console.log(
      `chaos (c): ${total} published, ${handled.size} handled, ${dead.length} dead-lettered`,
      reasons,
    );
    expect(handled.size).toBe(900);
    expect(calls).toBe(900);
    expect(dead).toHaveLength(100);
    expect(reasons).toEqual({ handler: 50, validation: 50 });
    expect(dead.filter((d) => d.reason === 'handler').every((d) => d.attempts === 2)).toBe(true);
    expect(dead.find((d) => d.reason === 'handler')!.error.message).toMatch(/^poison p/);
  }, 60_000);

  it('publishes events that the official CloudEvents SDK parses', async () => {
    const rt = await runtime();
    const receipt = await rt.publish('user.created', user('1', 'ada'), { id: 'evt-ce' });
    const nc = await connect({ servers: url });
    try {
      const jsm = await jetstreamManager(nc);
      const stored = await jsm.streams.getMessage(`${prefix.toUpperCase()}_EVENTS`, { seq: receipt.seq! });
      const parsed = HTTP.toEvent({
        headers: { 'content-type': stored!.header.get('content-type') },
        body: new TextDecoder().decode(stored!.data),
      }) as SdkCloudEvent<unknown>;
      expect(parsed).toMatchObject({
        specversion: '1.0',
        id: 'evt-ce',
        type: 'user.created',
        source: 'accounts',
      });
      expect(parsed.data).toEqual(user('1', 'ada'));
      expect(parsed.validate()).toBe(true);
    } finally {
      await nc.close();
    }
  });

  it('delivers a structured CloudEvent published by a plain NATS client', async () => {
    const rt = await runtime();
    const got: unknown[] = [];
    await rt.subscribe('user.created', (p, meta) => void got.push({ p, id: meta.id, source: meta.source }))
      .ready;
    const event = new SdkCloudEvent({
      type: 'user.created',
      source: 'legacy-app',
      id: 'plain-1',
      data: user('7'),
    });
    const message = HTTP.structured(event);
    const nc = await connect({ servers: url });
    try {
      nc.publish(`${prefix}.events.user.created`, message.body as string);
      await nc.flush();
    } finally {
      await nc.close();
    }
    await waitFor(() => got.length === 1, { what: "the plain client's event" });
    expect(got).toEqual([{ p: user('7'), id: 'plain-1', source: 'legacy-app' }]);
  });
});
