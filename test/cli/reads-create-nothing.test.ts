import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime } from '../../src/runtime/create-runtime.js';
import { natsTransport } from '../../src/transport/nats/nats-transport.js';
import { startNatsServer, type NatsServerHandle } from '../setup/nats-server.js';
import { testEvents, testLogger, user } from '../support/events.js';
import { until } from '../support/wait.js';
import { runCli } from './run-cli.js';

/** Every stream on the server, KV buckets (`KV_…`) included, sorted. */
async function streamsOf(url: string): Promise<string[]> {
  const nc = await connect({ servers: url });
  try {
    const jsm = await jetstreamManager(nc);
    const names: string[] = [];
    for await (const s of jsm.streams.list()) names.push(s.config.name);
    return names.sort();
  } finally {
    await nc.close();
  }
}

describe('bulwark CLI reads create nothing', () => {
  // A server of its own: the whole stream list is compared, so no other test may add to it.
  let server: NatsServerHandle;
  const prefix = 'shop';
  const cli = (...args: string[]) => runCli([...args, '--prefix', prefix], { NATS_URL: server.url });

  beforeAll(async () => {
    server = await startNatsServer();
    // What a service leaves on the broker: its event and dead-letter streams, a queue, a dead letter.
    const rt = await createRuntime({
      service: 'accounts',
      events: testEvents,
      transport: natsTransport({ servers: server.url, prefix }),
      logger: testLogger,
      handleSignals: false,
    });
    const sub = rt.subscribe(
      'user.created',
      () => {
        throw new Error('template missing');
      },
      { group: 'mailer', maxAttempts: 1 },
    );
    await sub.ready;
    await rt.queue('emails').ready();
    await rt.publish('user.created', user('1'));
    await until(() => sub.stats().deadLettered === 1, 'a dead letter');
    await rt.shutdown();
  }, 30_000);
  afterAll(() => server?.dispose());

  it('breakers ls, dlq ls and jobs counts leave the stream and bucket list as it was', async () => {
    const before = await streamsOf(server.url);
    expect(before).toEqual(['SHOP_DLQ', 'SHOP_EVENTS', 'SHOP_Q_emails']);

    const breakers = await cli('breakers', 'ls');
    expect(breakers.stderr).toBe('');
    expect(breakers.stdout).toBe('no shared breakers under prefix "shop"\n');
    expect(breakers.code).toBe(0);
    const dlq = await cli('dlq', 'ls', '--json');
    expect(dlq.code).toBe(0);
    expect(JSON.parse(dlq.stdout)).toHaveLength(1);
    const jobs = await cli('jobs', 'counts', 'emails', '--json');
    expect(jobs.code).toBe(0);
    expect(JSON.parse(jobs.stdout)).toMatchObject({ waiting: 0, dead: 0 });

    // The same reads against a prefix or queue that does not exist: refused, and still nothing made.
    const elsewhere = (...args: string[]) =>
      runCli([...args, '--prefix', 'nowhere'], { NATS_URL: server.url });
    expect((await elsewhere('breakers', 'ls')).code).toBe(0);
    expect((await elsewhere('dlq', 'ls')).code).toBe(1);
    expect((await elsewhere('jobs', 'counts', 'emails')).code).toBe(1);
    expect((await cli('jobs', 'counts', 'nope')).stderr).toBe(
      'bulwark: no queue "nope" under prefix "shop" (nothing was created)\n',
    );

    expect(await streamsOf(server.url)).toEqual(before);
  }, 60_000);

  it('demo --nats removes the streams and buckets it created', async () => {
    const before = await streamsOf(server.url);
    const run = await runCli(['demo', '--nats'], { NATS_URL: server.url });
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/removed what the demo created on the broker: DEMO\w+_DLQ, DEMO\w+_EVENTS/);
    expect(await streamsOf(server.url)).toEqual(before);
  }, 60_000);
});
