import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { isValidationError } from '../../src/errors.js';
import { decodeEvent } from '../../src/events/cloudevent.js';
import { uuidv7 } from '../../src/events/ids.js';
import { defineEvents, type EventRegistry, type EventSchemas } from '../../src/events/registry.js';
import { decodePayload } from '../../src/events/versions.js';
import { createRuntime } from '../../src/runtime/create-runtime.js';
import type { Runtime } from '../../src/runtime/runtime.js';
import { testLogger } from '../support/events.js';
import { transportCases, type TestBus, type TransportCase } from '../support/transports.js';
import { poll, until } from '../support/wait.js';

const v1Order = z.object({ id: z.string(), total: z.number() });
const v2Order = z.object({ id: z.string(), totalCents: z.number().int() });
const toCents = (v1: z.output<typeof v1Order>) => ({ id: v1.id, totalCents: Math.round(v1.total * 100) });

/** The registry before the deploy: `order.placed` as it was first written, unversioned. */
const before = defineEvents({ 'order.placed': v1Order });

/** The registry after it: version 2, with the step from version 1. */
const after = defineEvents({
  'order.placed': { schema: v2Order, version: 2, upcast: { 1: { schema: v1Order, to: toCents } } },
});

/** A stored event as another writer (or an older or newer service) put it on the bus. */
function rawEvent(data: unknown, dataschema?: string): string {
  return JSON.stringify({
    specversion: '1.0',
    id: uuidv7(),
    source: 'elsewhere',
    type: 'order.placed',
    time: new Date().toISOString(),
    datacontenttype: 'application/json',
    data,
    ...(dataschema !== undefined && { dataschema }),
  });
}

/** Runtimes on one bus of `c`, each with the registry it is given; shut down and cleaned up after each test. */
function useDeploys(c: TransportCase) {
  let bus: TestBus | undefined;
  const live: Runtime<EventSchemas>[] = [];
  afterEach(async () => {
    await Promise.all(live.splice(0).map((rt) => rt.shutdown()));
    await bus?.dispose();
    bus = undefined;
  });
  return async <S extends EventSchemas>(events: EventRegistry<S>): Promise<Runtime<S>> => {
    bus ??= c.bus();
    const rt = await createRuntime({
      service: 'orders',
      events,
      transport: bus.transport(),
      logger: testLogger,
      handleSignals: false,
    });
    live.push(rt as unknown as Runtime<EventSchemas>);
    return rt;
  };
}

describe.each(transportCases)('versioned events on $name', (c) => {
  const deploy = useDeploys(c);

  it('writes the newest version into its own events, which arrive unchanged', async () => {
    const rt = await deploy(after);
    const seen: { payload: unknown; id: string }[] = [];
    await rt.subscribe('order.placed', (order, meta) => void seen.push({ payload: order, id: meta.id }), {
      group: 'billing',
    }).ready;
    const receipt = await rt.publish('order.placed', { id: 'o2', totalCents: 990 });
    await until(() => seen.length === 1, 'the v2 delivery');
    expect(seen[0]).toEqual({ payload: { id: 'o2', totalCents: 990 }, id: receipt.id });
    const [stored] = await collect(rt.transport.read!({ pattern: 'order.placed' }));
    const envelope = stored?.event ?? decodeEvent(stored?.body ?? '');
    expect(envelope).toMatchObject({ id: receipt.id, dataschema: 'bulwark:order.placed/2' });
    expect(await rt.deadLetters.count()).toBe(0);
    const plain = await deploy(before);
    expect(plain.events.dataschema('order.placed')).toBeUndefined();
    expect(rt.events.dataschema('order.placed')).toBe('bulwark:order.placed/2');
  });

  it('upcasts a v1 event stored before a deploy for a v2 subscriber, on delivery and on replay', async () => {
    const old = await deploy(before);
    await old.publish('order.placed', { id: 'o1', total: 12.5 });
    await old.shutdown();

    const rt = await deploy(after);
    const seen: unknown[] = [];
    await rt.subscribe('order.placed', (order) => void seen.push(order), { group: 'billing' }).ready;
    await until(() => seen.length === 1, 'the upcast delivery');
    expect(seen[0]).toEqual({ id: 'o1', totalCents: 1250 });

    const replay = await rt.transport.replay!({ type: 'order.placed', group: 'billing' });
    expect(replay.replayed).toBe(1);
    await until(() => seen.length === 2, 'the upcast replay');
    expect(seen[1]).toEqual({ id: 'o1', totalCents: 1250 });
    const history = await collect(rt.events.read('order.placed', { from: { seq: 1 } }));
    expect(history.map((e) => e.payload)).toEqual([{ id: 'o1', totalCents: 1250 }]);
    expect(await rt.deadLetters.count()).toBe(0);
  });

  it('delivers an event of the newest version as it is, and one of version 1 named so upcast', async () => {
    const rt = await deploy(after);
    const seen: unknown[] = [];
    await rt.subscribe('order.placed', (order) => void seen.push(order)).ready;
    await rt.transport.publishRaw(
      'order.placed',
      rawEvent({ id: 'a', totalCents: 5 }, 'bulwark:order.placed/2'),
    );
    await rt.transport.publishRaw(
      'order.placed',
      rawEvent({ id: 'b', total: 0.07 }, 'bulwark:order.placed/1'),
    );
    // Another producer's schema URI is not bulwark's version: read as version 1.
    await rt.transport.publishRaw(
      'order.placed',
      rawEvent({ id: 'c', total: 1 }, 'https://example.com/order'),
    );
    await until(() => seen.length === 3, 'three deliveries');
    expect(seen).toEqual([
      { id: 'a', totalCents: 5 },
      { id: 'b', totalCents: 7 },
      { id: 'c', totalCents: 100 },
    ]);
  });

  it('dead-letters an event of a version newer than the subscriber knows, reason validation', async () => {
    const rt = await deploy(after);
    let calls = 0;
    await rt.subscribe('order.placed', () => void calls++, { group: 'billing', maxAttempts: 5 }).ready;
    await rt.transport.publishRaw('order.placed', rawEvent({ id: 'n', cents: 1 }, 'bulwark:order.placed/3'));
    const [dl] = await poll(
      () => rt.deadLetters.list(),
      (d) => d.length === 1,
      'the dead letter',
    );
    expect(dl).toMatchObject({ reason: 'validation', attempts: 1, group: 'billing' });
    expect(dl!.error.message).toMatch(
      /"order\.placed" version 3 is newer than the newest this service knows \(2\)/,
    );
    expect(dl!.event.dataschema).toBe('bulwark:order.placed/3');
    expect(calls).toBe(0);
  });

  it('dead-letters an old event that fails its own version schema, or whose upcaster throws', async () => {
    const throwing = defineEvents({
      'order.placed': {
        schema: v2Order,
        version: 2,
        upcast: {
          1: {
            schema: v1Order,
            to: (v1: z.output<typeof v1Order>) => {
              if (v1.total < 0) throw new RangeError('a negative total has no cents');
              return toCents(v1);
            },
          },
        },
      },
    });
    const rt = await deploy(throwing);
    await rt.subscribe('order.placed', () => undefined, { maxAttempts: 5 }).ready;
    await rt.transport.publishRaw('order.placed', rawEvent({ id: 'x', total: 'ten' }));
    await rt.transport.publishRaw('order.placed', rawEvent({ id: 'y', total: -1 }));
    const dead = await poll(
      () => rt.deadLetters.list(),
      (d) => d.length === 2,
      'two dead letters',
    );
    const messages = dead.map((d) => [d.reason, d.error.message] as const);
    expect(messages).toContainEqual([
      'validation',
      expect.stringMatching(/invalid "order\.placed" v1 payload: total/),
    ]);
    expect(messages).toContainEqual([
      'validation',
      'upcasting "order.placed" from version 1 failed: a negative total has no cents',
    ]);
  });
});

describe('decodePayload', () => {
  const events = defineEvents({
    'order.placed': {
      schema: z.object({ id: z.string(), cents: z.number(), currency: z.string() }),
      version: 3,
      upcast: {
        1: { schema: v1Order, to: toCents },
        2: {
          schema: v2Order,
          to: (v2: z.output<typeof v2Order>) => ({ id: v2.id, cents: v2.totalCents, currency: 'EUR' }),
        },
      },
    },
    'user.created': z.object({ id: z.string() }),
    'gap.type': {
      schema: z.object({ n: z.number() }),
      version: 3,
      upcast: { 2: { schema: z.object({}), to: () => ({ n: 0 }) } },
    },
  });
  const event = (type: string, data: unknown, dataschema?: string) =>
    JSON.parse(rawEvent(data, dataschema).replace('"order.placed"', JSON.stringify(type)));

  it('upcasts step by step, v1 -> v2 -> v3, then validates against the newest schema', () => {
    expect(decodePayload(events, event('order.placed', { id: '1', total: 2 }))).toEqual({
      ok: true,
      payload: { id: '1', cents: 200, currency: 'EUR' },
    });
    expect(
      decodePayload(events, event('order.placed', { id: '1', totalCents: 3 }, 'bulwark:order.placed/2')),
    ).toEqual({
      ok: true,
      payload: { id: '1', cents: 3, currency: 'EUR' },
    });
    expect(
      decodePayload(
        events,
        event('order.placed', { id: '1', cents: 4, currency: 'USD' }, 'bulwark:order.placed/3'),
      ),
    ).toEqual({ ok: true, payload: { id: '1', cents: 4, currency: 'USD' } });
  });

  it('refuses an unknown type, a version without an upcaster, and a dataschema malformed or naming another type', () => {
    const unknown = decodePayload(events, event('nope.nope', {}));
    expect(!unknown.ok && unknown.error.message).toBe('unknown event type "nope.nope"');
    const gap = decodePayload(events, event('gap.type', { n: 1 }));
    expect(!gap.ok && gap.error.message).toBe('"gap.type" has no upcaster from version 1 (newest: 3)');
    const other = decodePayload(events, event('order.placed', {}, 'bulwark:user.created/1'));
    expect(!other.ok && isValidationError(other.error) && other.error.message).toMatch(/names another type/);
    const malformed = decodePayload(events, event('order.placed', {}, 'bulwark:order.placed/v2'));
    expect(!malformed.ok && malformed.error.message).toBe(
      `dataschema "bulwark:order.placed/v2" is not 'bulwark:<type>/<version>'`,
    );
  });

  it('reads an unversioned type as before: no dataschema, the plain schema', () => {
    expect(decodePayload(events, event('user.created', { id: 'u', extra: 1 }))).toEqual({
      ok: true,
      payload: { id: 'u' },
    });
    expect(events.dataschema('user.created')).toBeUndefined();
    expect(events.dataschema('order.placed')).toBe('bulwark:order.placed/3');
    expect(events.version('user.created')).toBe(1);
  });
});

describe('defineEvents with versions', () => {
  it('refuses a malformed definition with a ValidationError naming the type', () => {
    const bad = [
      { schema: v2Order, version: 0 },
      { schema: v2Order, version: 1.5 },
      { schema: v2Order, version: 2, upcast: { 2: { schema: v1Order, to: toCents } } },
      { schema: v2Order, version: 2, upcast: { 1: { schema: v1Order } } },
      { schema: v2Order, scope: 'galaxy' },
      { version: 2 },
    ];
    for (const definition of bad) {
      expect(() => defineEvents({ 'order.placed': definition as never })).toThrow(
        /event type "order\.placed": /,
      );
    }
  });

  it('exposes each type scope, remote unless declared local', () => {
    const events = defineEvents({
      'cache.invalidated': { schema: z.object({ key: z.string() }), scope: 'local' },
      'user.created': z.object({ id: z.string() }),
    });
    expect(events.scope('cache.invalidated')).toBe('local');
    expect(events.scope('user.created')).toBe('remote');
    expect(events.schema('cache.invalidated')).toBe(events.schemas['cache.invalidated'].schema);
  });
});

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}
