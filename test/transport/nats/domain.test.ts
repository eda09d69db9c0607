import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { afterEach, describe, expect, it } from 'vitest';
import { createRuntime } from '../../../src/runtime/create-runtime.js';
import { natsTransport } from '../../../src/transport/nats/nats-transport.js';
import { freePort, startNatsServer } from '../../setup/nats-server.js';
import { testEvents, testLogger, user } from '../../support/events.js';
import { until, waitFor } from '../../support/wait.js';
import { uniquePrefix } from './helpers.js';

describe('a JetStream domain', () => {
  const cleanup: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn().catch(() => undefined);
  });

  /** A hub with JetStream domain `hub`, and a leaf node with its own JetStream (domain `leaf`). */
  async function hubAndLeaf() {
    const leafPort = await freePort();
    const hub = await startNatsServer({
      jsDomain: 'hub',
      config: `leafnodes {\n  listen: "127.0.0.1:${leafPort}"\n}`,
    });
    cleanup.push(() => hub.dispose());
    const leaf = await startNatsServer({
      jsDomain: 'leaf',
      config: `leafnodes {\n  remotes: [ { url: "nats-leaf://127.0.0.1:${leafPort}" } ]\n}`,
    });
    cleanup.push(() => leaf.dispose());
    // The leaf connection is up once the hub's JetStream answers through it.
    const probe = await connect({ servers: leaf.url });
    cleanup.push(() => probe.close());
    await waitFor(
      () =>
        jetstreamManager(probe, { domain: 'hub', timeout: 200 })
          .then((jsm) => jsm.getAccountInfo())
          .then(
            () => true,
            () => false,
          ),
      { what: "the hub's JetStream to answer through the leaf node", timeoutMs: 20_000 },
    );
    return { hub, leaf, probe };
  }

  it("a runtime on a leaf node keeps its events, jobs and shared breakers in the hub's JetStream", async () => {
    const { leaf, probe } = await hubAndLeaf();
    const prefix = uniquePrefix();
    const rt = await createRuntime({
      service: 'edge',
      events: testEvents,
      transport: natsTransport({ servers: leaf.url, prefix, domain: 'hub' }),
      logger: testLogger,
      handleSignals: false,
    });
    cleanup.push(() => rt.shutdown());
    const seen: string[] = [];
    await rt.subscribe('user.created', (u) => void seen.push(u.id)).ready;
    await rt.publish('user.created', user('1'));
    const q = rt.queue<string>('emails');
    const done: string[] = [];
    q.process((job) => void done.push(job.data));
    await q.add('welcome', 'ada');
    const stripe = rt.breaker('stripe', { shared: true, failureThreshold: 1 });
    await stripe.ready;
    await until(() => seen.length === 1 && done.length === 1, 'the event and the job');
    expect(stripe.stats().shared).toEqual({ mode: 'shared' });
    // The streams are the hub's; the leaf's own JetStream has none of them.
    const names = async (domain: string) => {
      const out: string[] = [];
      for await (const s of (await jetstreamManager(probe, { domain })).streams.list())
        out.push(s.config.name);
      return out;
    };
    const upper = prefix.toUpperCase();
    expect(await names('hub')).toEqual(expect.arrayContaining([`${upper}_EVENTS`, `${upper}_Q_emails`]));
    expect((await names('leaf')).filter((n) => n.startsWith(upper))).toEqual([]);
  }, 30_000);

  it('a domain nobody serves fails at start, naming JetStream', async () => {
    const server = await startNatsServer({ jsDomain: 'hub' });
    cleanup.push(() => server.dispose());
    const transport = natsTransport({
      servers: server.url,
      prefix: uniquePrefix(),
      domain: 'elsewhere',
      requestTimeoutMs: 500,
    });
    await expect(
      createRuntime({
        service: 'lost',
        events: testEvents,
        transport,
        logger: testLogger,
        handleSignals: false,
      }),
    ).rejects.toThrow(/JetStream/);
    await transport.close();
  });
});
