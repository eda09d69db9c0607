import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterEach, describe, expect, it } from 'vitest';
import { Names } from '../../src/transport/nats/toolkit/names.js';
import { useRuntimes } from '../support/runtime.js';
import { transportCase } from '../support/transports.js';

const nats = transportCase('nats');

// Making a consumer whose filter has a wildcard costs the server a pass over the queue's subjects:
// a process that opens a queue whose stream is already whole must not make them again.
describe('job queue on nats: provisioning', () => {
  const { runtime, bus } = useRuntimes(nats);
  let nc: NatsConnection | undefined;
  afterEach(async () => {
    await nc?.close();
    nc = undefined;
  });

  /** Counts the JetStream API requests of `kind` (`CONSUMER.CREATE`, ...) on the queue's stream. */
  async function apiRequests(queue: string) {
    nc = await connect({ servers: bus().url });
    const stream = new Names(bus().prefix).queue(queue).stream;
    const seen: string[] = [];
    nc.subscribe(`$JS.API.>`, {
      callback: (_err, m) => {
        if (m.subject.includes(`.${stream}`)) seen.push(m.subject);
      },
    });
    await nc.flush();
    return {
      stream,
      count: (kind: string) => seen.filter((s) => s.startsWith(`$JS.API.${kind}.`)).length,
      reset: () => void seen.splice(0),
    };
  }

  it('makes the consumers once; a later open makes none, and one that finds a consumer gone makes it again', async () => {
    const api = await apiRequests('prov');
    const first = await runtime('first');
    await first.queue('prov').ready();
    await nc!.flush();
    expect(api.count('CONSUMER.CREATE')).toBe(11);

    api.reset();
    const second = await runtime('second');
    await second.queue('prov').ready();
    await nc!.flush();
    expect(api.count('STREAM.INFO')).toBeGreaterThanOrEqual(1);
    expect(api.count('CONSUMER.CREATE')).toBe(0);

    // Someone deletes a consumer: the next process to open the queue makes it whole again.
    const jsm = await jetstreamManager(nc!);
    await jsm.consumers.delete(api.stream, 'count_done');
    api.reset();
    const third = await runtime('third');
    const q = third.queue('prov');
    await q.ready();
    await nc!.flush();
    expect(api.count('CONSUMER.CREATE')).toBe(11);
    expect((await jsm.consumers.info(api.stream, 'count_done')).config.durable_name).toBe('count_done');
    await q.add('j', { n: 1 });
    q.process(() => 'done');
    await expect.poll(async () => (await q.counts()).completed, { timeout: 10_000 }).toBe(1);
  });

  it('makes the consumers again when the queue is opened with another ack wait', async () => {
    const api = await apiRequests('prov-wait');
    const first = await runtime('first');
    await first.queue('prov-wait', { ackWaitMs: 30_000 }).ready();
    api.reset();
    const second = await runtime('second');
    await second.queue('prov-wait', { ackWaitMs: 20_000 }).ready();
    await nc!.flush();
    expect(api.count('CONSUMER.CREATE')).toBe(11);
    const jsm = await jetstreamManager(nc!);
    expect((await jsm.consumers.info(api.stream, 'normal')).config.ack_wait).toBe(20_000 * 1_000_000);
  });
});
