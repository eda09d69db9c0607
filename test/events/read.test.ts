import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { afterEach, describe, expect, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import { isoTime, uuidv7 } from '../../src/events/ids.js';
import { withHistory, type EventHistory, type SkippedEvent } from '../../src/events/history.js';
import { defineEvents } from '../../src/events/registry.js';
import { isValidationError } from '../../src/errors.js';
import { createRuntime } from '../../src/runtime/create-runtime.js';
import type { Runtime } from '../../src/runtime/runtime.js';
import { testLogger } from '../support/events.js';
import { transportCases, type TestBus } from '../support/transports.js';
import { waitFor } from '../support/wait.js';

const events = defineEvents({
  'order.placed': z.object({ id: z.string(), totalCents: z.number().int() }),
  'order.shipped': z.object({ id: z.string(), carrier: z.string() }),
  'user.created': z.object({ id: z.string() }),
  'invoice.issued': {
    schema: z.object({ id: z.string(), totalCents: z.number().int() }),
    version: 2,
    upcast: {
      1: {
        schema: z.object({ id: z.string(), total: z.number() }),
        to: (v1: { id: string; total: number }) => ({ id: v1.id, totalCents: Math.round(v1.total * 100) }),
      },
    },
  },
});
type Rt = Runtime<typeof events.schemas>;

async function all<E>(history: AsyncIterable<E>): Promise<E[]> {
  const out: E[] = [];
  for await (const e of history) out.push(e);
  return out;
}

/** Every consumer on the bus's events stream, as the server lists them. */
async function consumers(bus: TestBus): Promise<{ name: string; durable: string | undefined }[]> {
  const nc = await connect({ servers: bus.url });
  try {
    const jsm = await jetstreamManager(nc);
    const out: { name: string; durable: string | undefined }[] = [];
    for await (const c of jsm.consumers.list(`${bus.prefix.toUpperCase()}_EVENTS`))
      out.push({ name: c.name, durable: c.config.durable_name });
    return out;
  } finally {
    await nc.close();
  }
}

describe.each(transportCases)('rt.events.read on $name', (c) => {
  let bus: TestBus | undefined;
  const runtimes: Rt[] = [];
  afterEach(async () => {
    await Promise.all(runtimes.splice(0).map((rt) => rt.shutdown()));
    await bus?.dispose();
    bus = undefined;
  });
  const runtime = async (): Promise<Rt> => {
    bus ??= c.bus();
    const rt = await createRuntime({
      service: 'history',
      events,
      transport: bus.transport(),
      logger: testLogger,
    });
    runtimes.push(rt);
    return rt;
  };

  /** Publishes placed/shipped/user events interleaved; @returns their sequences in order */
  async function seed(rt: Rt): Promise<number[]> {
    const receipts = await rt.publishMany([
      { type: 'order.placed', payload: { id: 'o1', totalCents: 100 } },
      { type: 'order.shipped', payload: { id: 'o1', carrier: 'ups' } },
      { type: 'user.created', payload: { id: 'u1' } },
      { type: 'order.placed', payload: { id: 'o2', totalCents: 200 } },
      { type: 'order.placed', payload: { id: 'o3', totalCents: 300 } },
      { type: 'order.shipped', payload: { id: 'o2', carrier: 'dhl' } },
    ]);
    return receipts.map((r) => r.seq!);
  }

  it('reads one type from a sequence, in order, with its meta', async () => {
    const rt = await runtime();
    const seqs = await seed(rt);
    const read = await all(rt.events.read('order.placed', { from: { seq: 1 } }));
    expect(read.map((e) => e.payload)).toEqual([
      { id: 'o1', totalCents: 100 },
      { id: 'o2', totalCents: 200 },
      { id: 'o3', totalCents: 300 },
    ]);
    expect(read.map((e) => e.meta.seq)).toEqual([seqs[0], seqs[3], seqs[4]]);
    const meta = read[0]!.meta;
    expect(meta).toMatchObject({ type: 'order.placed', source: 'history' });
    expect(meta.correlationId).toBe(meta.id);
    expect(meta.storedAt).toBeGreaterThan(0);
    // every registry member is still there
    expect(rt.events.has('order.placed')).toBe(true);
    expect(rt.events.types).toEqual(['order.placed', 'order.shipped', 'user.created', 'invoice.issued']);
  });

  it('reads a pattern: every matching type merged in sequence order, typed as their union', async () => {
    const rt = await runtime();
    const seqs = await seed(rt);
    const history = rt.events.read('order.*', { from: { seq: 1 } });
    type Item = typeof history extends EventHistory<infer E> ? E : never;
    expectTypeOf<Item['meta']['type']>().toEqualTypeOf<'order.placed' | 'order.shipped'>();
    const read = await all(history);
    expect(read.map((e) => e.meta.seq)).toEqual([seqs[0], seqs[1], seqs[3], seqs[4], seqs[5]]);
    expect(read.map((e) => e.meta.type)).toEqual([
      'order.placed',
      'order.shipped',
      'order.placed',
      'order.placed',
      'order.shipped',
    ]);
    expect(read.map((e) => e.type)).toEqual(read.map((e) => e.meta.type));
    const shipped = read.find((e) => e.meta.type === 'order.shipped')!;
    if (shipped.type === 'order.shipped')
      expectTypeOf(shipped.payload).toEqualTypeOf<{ id: string; carrier: string }>();
    expect(await all(rt.events.read('>', { from: { seq: 1 } }))).toHaveLength(6);
  });

  it('honours from, to and limit', async () => {
    const rt = await runtime();
    const seqs = await seed(rt);
    const range = await all(rt.events.read('order.*', { from: { seq: seqs[1]! }, to: { seq: seqs[4]! } }));
    expect(range.map((e) => e.meta.seq)).toEqual([seqs[1], seqs[3], seqs[4]]);
    const limited = await all(rt.events.read('order.*', { from: { seq: seqs[1]! }, limit: 2 }));
    expect(limited.map((e) => e.meta.seq)).toEqual([seqs[1], seqs[3]]);
    expect(await all(rt.events.read('order.*', { from: { seq: 1 }, limit: 0 }))).toEqual([]);
    expect(await all(rt.events.read('order.*', { from: { seq: seqs[5]! + 1 } }))).toEqual([]);
  });

  it('reads from and to a time', async () => {
    const rt = await runtime();
    await seed(rt);
    const before = await all(rt.events.read('order.*', { from: { seq: 1 } }));
    const lastStored = before.at(-1)!.meta.storedAt;
    await waitFor(() => Date.now() > lastStored + 2, { what: 'the clock to move on' });
    const later = await rt.publish('order.placed', { id: 'o4', totalCents: 400 });
    const fromTime = await all(rt.events.read('order.*', { from: { time: new Date(lastStored + 1) } }));
    expect(fromTime.map((e) => e.meta.seq)).toEqual([later.seq]);
    const toTime = await all(rt.events.read('order.*', { from: { seq: 1 }, to: { time: lastStored } }));
    expect(toTime.map((e) => e.meta.seq)).toEqual(before.map((e) => e.meta.seq));
  });

  it('stops at the last event stored when the read began', async () => {
    const rt = await runtime();
    await seed(rt);
    const iterator = rt.events.read('order.placed', { from: { seq: 1 } })[Symbol.asyncIterator]();
    const first = await iterator.next();
    expect(first.done).toBe(false);
    await rt.publish('order.placed', { id: 'late', totalCents: 1 });
    const rest: string[] = [];
    for (let r = await iterator.next(); !r.done; r = await iterator.next()) rest.push(r.value.payload.id);
    expect(rest).toEqual(['o2', 'o3']);
  });

  it('ends early when its signal aborts', async () => {
    const rt = await runtime();
    await seed(rt);
    const controller = new AbortController();
    const seen: string[] = [];
    for await (const e of rt.events.read('order.*', { from: { seq: 1 }, signal: controller.signal })) {
      seen.push(e.payload.id);
      controller.abort();
    }
    expect(seen).toEqual(['o1']);
  });

  it('upcasts events stored at an older version', async () => {
    const rt = await runtime();
    const envelope = (data: unknown, extra: Record<string, string> = {}) =>
      JSON.stringify({
        specversion: '1.0',
        id: uuidv7(),
        source: 'billing',
        type: 'invoice.issued',
        time: isoTime(),
        datacontenttype: 'application/json',
        data,
        ...extra,
      });
    // v1, written before the type had versions; then v2, as a publisher of the new schema writes it
    await rt.transport.publishRaw('invoice.issued', envelope({ id: 'old', total: 12.5 }));
    await rt.transport.publishRaw(
      'invoice.issued',
      envelope({ id: 'new', totalCents: 99 }, { dataschema: 'bulwark:invoice.issued/2' }),
    );
    const read = await all(rt.events.read('invoice.issued', { from: { seq: 1 } }));
    expect(read.map((e) => e.payload)).toEqual([
      { id: 'old', totalCents: 1250 },
      { id: 'new', totalCents: 99 },
    ]);
    expect(read[0]!.meta.source).toBe('billing');
  });

  it('skips and counts what cannot be decoded, without throwing, and reads on', async () => {
    const rt = await runtime();
    await rt.publish('order.shipped', { id: 'a', carrier: 'ups' });
    await rt.transport.publishRaw('order.shipped', 'not json');
    const wrong = {
      specversion: '1.0',
      id: uuidv7(),
      source: 's',
      type: 'order.shipped',
      time: isoTime(),
      datacontenttype: 'application/json',
      data: { id: 1 },
    };
    await rt.transport.publishRaw('order.shipped', JSON.stringify(wrong));
    await rt.publish('order.shipped', { id: 'b', carrier: 'dhl' });
    const skipped: SkippedEvent[] = [];
    const history = rt.events.read('order.shipped', { from: { seq: 1 }, onSkip: (s) => skipped.push(s) });
    expect((await all(history)).map((e) => e.payload.id)).toEqual(['a', 'b']);
    expect(history.skipped).toBe(2);
    expect(skipped.map((s) => s.reason)).toEqual(['decode', 'validation']);
    expect(skipped[1]).toMatchObject({ type: 'order.shipped', error: { name: 'ValidationError' } });
  });

  it('leaves out copies made by replay', async () => {
    const rt = await runtime();
    await seed(rt);
    await rt.transport.replay!({ type: 'order.shipped', group: 'audit' });
    // the copies are on the stream, next to the originals
    expect(await all(rt.transport.read!({ pattern: 'order.shipped' }))).toHaveLength(4);
    const read = await all(rt.events.read('order.shipped', { from: { seq: 1 } }));
    expect(read.map((e) => e.payload.id)).toEqual(['o1', 'o2']);
  });

  it('refuses an unknown type, a bad pattern and bad options with a ValidationError', async () => {
    const rt = await runtime();
    const read = rt.events.read as (t: string, o: unknown) => unknown;
    expect(() => read('nope.created', { from: { seq: 1 } })).toThrow(
      expect.objectContaining({ code: 'BULWARK_VALIDATION' }),
    );
    for (const [target, options] of [
      ['order.>.x', { from: { seq: 1 } }],
      ['nothing.*', { from: { seq: 1 } }],
      ['order.placed', {}],
      ['order.placed', { from: { seq: 0 } }],
      ['order.placed', { from: { time: 'not a date' } }],
      ['order.placed', { from: { seq: 1 }, limit: -1 }],
    ] as const) {
      let thrown: unknown;
      try {
        read(target, options);
      } catch (err) {
        thrown = err;
      }
      expect(isValidationError(thrown), `${target} ${JSON.stringify(options)}`).toBe(true);
    }
  });
});

describe('rt.events.read on nats creates no durable consumer', () => {
  const c = transportCases.find((t) => t.name === 'nats')!;
  let bus: TestBus | undefined;
  let rt: Rt | undefined;
  afterEach(async () => {
    await rt?.shutdown();
    await bus?.dispose();
  });

  it('reads through a short-lived ephemeral consumer, removed when the read ends or is abandoned', async () => {
    bus = c.bus();
    rt = await createRuntime({ service: 'history', events, transport: bus.transport(), logger: testLogger });
    await rt.publishMany(
      Array.from({ length: 600 }, (_, i) => ({
        type: 'order.placed' as const,
        payload: { id: `o${i}`, totalCents: i },
      })),
    );
    expect(await all(rt.events.read('order.placed', { from: { seq: 1 } }))).toHaveLength(600);
    expect(await consumers(bus)).toEqual([]);
    let during: { name: string; durable: string | undefined }[] = [];
    for await (const _ of rt.events.read('order.*', { from: { seq: 1 } })) {
      during = await consumers(bus);
      break;
    }
    expect(during).toHaveLength(1);
    expect(during[0]!.durable).toBeUndefined();
    expect(await consumers(bus)).toEqual([]);
  });
});

describe('events.read without history', () => {
  it('throws a TransportError when the transport keeps none', () => {
    const registry = withHistory(events, undefined);
    expect(registry.has('order.placed')).toBe(true);
    expect(() => registry.read('order.placed', { from: { seq: 1 } })).toThrow(
      expect.objectContaining({ code: 'BULWARK_TRANSPORT' }),
    );
  });
});
