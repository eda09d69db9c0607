import { afterEach, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { natsTransport } from '../../../src/transport/nats/nats-transport.js';
import { REDRIVE_GROUP_HEADER, type ConsumerSpec, type Transport } from '../../../src/transport/transport.js';
import { quiet, waitFor } from '../../support/wait.js';
import { Collector, ctx, dropStreams, idOf, outbound, uniquePrefix } from './helpers.js';

const url = inject('natsUrl');

function spec(over: Partial<ConsumerSpec> = {}): ConsumerSpec {
  return {
    type: 'user.created',
    group: 'mailer',
    mode: 'group',
    maxInFlight: 100,
    instanceId: 'i1',
    ...over,
  };
}

describe('natsTransport', () => {
  let prefix: string;
  let transport: Transport;

  async function open(): Promise<Transport> {
    prefix = uniquePrefix();
    transport = natsTransport({ servers: url, prefix });
    await transport.start(ctx);
    return transport;
  }

  afterEach(async () => {
    await transport?.close();
    await dropStreams(url, prefix);
  });

  it('publishes with the event id as msgID and reports a re-publish as duplicate', async () => {
    const t = await open();
    const first = await t.publish(outbound('user.created', { n: 1 }, 'evt-1'));
    const again = await t.publish(outbound('user.created', { n: 1 }, 'evt-1'));
    expect(first).toEqual({ id: 'evt-1', seq: 1 });
    expect(again).toEqual({ id: 'evt-1', seq: 1, duplicate: true });
    const many = await t.publishMany([
      outbound('user.created', { n: 2 }),
      outbound('user.created', { n: 3 }),
    ]);
    expect(many.map((r) => r.seq)).toEqual([2, 3]);
  });

  it('delivers to competing instances of a group, each event to one of them', async () => {
    const t = await open();
    await t.publishMany(Array.from({ length: 50 }, (_, n) => outbound('user.created', { n })));
    const all = new Collector((d) => d.ack());
    const a = t.consume(spec({ instanceId: 'a', maxInFlight: 5 }), all);
    const b = t.consume(spec({ instanceId: 'b', maxInFlight: 5 }), all);
    await Promise.all([a.ready, b.ready]);
    await all.waitFor(50);
    expect(new Set(all.deliveries.map(idOf)).size).toBe(50);
    expect(all.deliveries.every((d) => d.attempt === 1 && d.event === undefined)).toBe(true);
    await Promise.all([a.stop(), b.stop()]);
  });

  it('delivers every event to every broadcast instance, from new events on', async () => {
    const t = await open();
    await t.publish(outbound('user.created', { old: true }));
    const a = new Collector((d) => d.ack());
    const b = new Collector((d) => d.ack());
    const ha = t.consume(spec({ mode: 'broadcast', instanceId: 'a' }), a);
    const hb = t.consume(spec({ mode: 'broadcast', instanceId: 'b' }), b);
    await Promise.all([ha.ready, hb.ready]);
    await t.publishMany([outbound('user.created', { n: 1 }), outbound('user.created', { n: 2 })]);
    await Promise.all([a.waitFor(2), b.waitFor(2)]);
    expect(a.deliveries.map(idOf)).toEqual(b.deliveries.map(idOf));
    await Promise.all([ha.stop(), hb.stop()]);
  });

  it('redelivers a nak after its delay with the next attempt number', async () => {
    const t = await open();
    const sink = new Collector((d) => (d.attempt === 1 ? d.nak(200) : d.ack()));
    const h = t.consume(spec(), sink);
    await h.ready;
    await t.publish(outbound('user.created', { n: 1 }));
    const started = Date.now();
    await sink.waitFor(2);
    expect(Date.now() - started).toBeGreaterThanOrEqual(150);
    expect(sink.deliveries.map((d) => d.attempt)).toEqual([1, 2]);
    expect(sink.deliveries[1]!.seq).toBe(sink.deliveries[0]!.seq);
    await h.stop();
  });

  it('holds at most maxInFlight unsettled deliveries per instance', async () => {
    const t = await open();
    await t.publishMany(Array.from({ length: 20 }, (_, n) => outbound('user.created', { n })));
    const sink = new Collector();
    const h = t.consume(spec({ maxInFlight: 3 }), sink);
    await sink.waitFor(3);
    // Nothing to wait for: a fourth delivery would be handed out as soon as it arrived, one
    // round trip to a local server (well under a ms); 200 ms without one means none is coming.
    await quiet(200);
    expect(sink.deliveries).toHaveLength(3);
    sink.deliveries[0]!.ack();
    await sink.waitFor(4);
    for (const d of sink.deliveries) d.ack();
    await h.stop();
  });

  it('dead-letters durably, lists, redrives to the same group, and purges', async () => {
    const t = await open();
    const sink = new Collector((d) => {
      if (d.headers[REDRIVE_GROUP_HEADER] === undefined) {
        void d.deadLetter({
          event: JSON.parse(new TextDecoder().decode(d.body as Uint8Array)),
          reason: 'handler',
          error: { name: 'Error', message: 'boom' },
          attempts: d.attempt,
          group: 'mailer',
        });
      } else d.ack();
    });
    const h = t.consume(spec(), sink);
    await h.ready;
    await t.publishMany([outbound('user.created', { n: 1 }, 'e1'), outbound('user.created', { n: 2 }, 'e2')]);
    await sink.waitFor(2);
    await expect.poll(() => t.deadLetters.count()).toBe(2);
    const [first] = await t.deadLetters.list({ limit: 1 });
    expect(first).toMatchObject({ reason: 'handler', group: 'mailer', attempts: 1, seq: 1 });
    expect(first!.subject).toBe(`${prefix}.events.user.created`);
    expect(await t.deadLetters.get(first!.id)).toEqual(first);
    expect(await t.deadLetters.count({ type: 'other' })).toBe(0);
    expect(await t.deadLetters.redrive({ ids: ['e1'] })).toEqual({ redriven: 1 });
    await sink.waitFor(3);
    expect(sink.deliveries[2]!.headers[REDRIVE_GROUP_HEADER]).toBe('mailer');
    expect(idOf(sink.deliveries[2]!)).toBe('e1');
    expect(await t.deadLetters.purge()).toEqual({ purged: 1 });
    expect(await t.deadLetters.count()).toBe(0);
    await h.stop();
  });

  it('replays a group from a stream sequence', async () => {
    const t = await open();
    await t.publishMany(Array.from({ length: 5 }, (_, n) => outbound('user.created', { n })));
    const sink = new Collector((d) => d.ack());
    const h = t.consume(spec({ group: 'rebuild', from: { seq: 3 } }), sink);
    await sink.waitFor(3);
    expect(sink.deliveries.map((d) => d.seq)).toEqual([3, 4, 5]);
    await h.stop();
  });

  it('recreates a consumer that was deleted under it', async () => {
    const t = await open();
    const sink = new Collector((d) => d.ack());
    const h = t.consume(spec({ group: 'g2' }), sink);
    await h.ready;
    const { jetstreamManager } = await import('@nats-io/jetstream');
    const { connect } = await import('@nats-io/transport-node');
    const nc = await connect({ servers: url });
    const jsm = await jetstreamManager(nc);
    const stream = `${prefix.toUpperCase()}_EVENTS`;
    const [ci] = await jsm.consumers.list(stream).next();
    await jsm.consumers.delete(stream, ci!.name);
    await waitFor(
      () =>
        jsm.consumers.info(stream, ci!.name).then(
          () => true,
          () => false,
        ),
      { what: 'the transport to provision the deleted consumer again', timeoutMs: 20_000 },
    );
    await nc.close();
    await t.publish(outbound('user.created', { after: true }));
    await sink.waitFor(1, 20_000);
    expect(sink.failures).toEqual([]);
    await h.stop();
  }, 30_000);

  it('is shared: only the last close closes it', async () => {
    const t = await open();
    await t.start(ctx);
    await t.close();
    expect(t.status()).toMatchObject({ kind: 'nats', connected: true, state: 'connected', outboxSize: 0 });
    await t.publish(outbound('user.created', { n: 1 }));
    await t.close();
    expect(t.status().state).toBe('closed');
    await expect(t.publish(outbound('user.created', { n: 1 }))).rejects.toThrow(/closed/);
  });
});
