import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { isValidationError } from '../../src/errors.js';
import { isPattern, isValidPattern, matchesPattern, typesMatching } from '../../src/events/patterns.js';
import { defineEvents } from '../../src/events/registry.js';
import { createRuntime } from '../../src/runtime/create-runtime.js';
import type { Runtime } from '../../src/runtime/runtime.js';
import { Names } from '../../src/transport/nats/toolkit/names.js';
import { testLogger } from '../support/events.js';
import { transportCases, type TestBus } from '../support/transports.js';
import { poll, until } from '../support/wait.js';

const events = defineEvents({
  'order.placed': z.object({ id: z.string(), totalCents: z.number() }),
  'order.shipped': z.object({ id: z.string(), carrier: z.string() }),
  'order.placed.eu': z.object({ id: z.string(), vatCents: z.number() }),
  'user.created': z.object({ id: z.string() }),
});
type Rt = Runtime<typeof events.schemas>;

/** The consumers on the bus's events stream, as the server lists them. */
async function natsConsumers(bus: TestBus): Promise<{ name: string; filter: string | undefined }[]> {
  const nc = await connect({ servers: bus.url });
  try {
    const jsm = await jetstreamManager(nc);
    const out: { name: string; filter: string | undefined }[] = [];
    for await (const c of jsm.consumers.list(`${bus.prefix.toUpperCase()}_EVENTS`)) {
      out.push({ name: c.name, filter: c.config.filter_subject });
    }
    return out;
  } finally {
    await nc.close();
  }
}

describe.each(transportCases)('pattern subscriptions on $name', (c) => {
  let bus: TestBus | undefined;
  const live: Rt[] = [];
  afterEach(async () => {
    await Promise.all(live.splice(0).map((rt) => rt.shutdown()));
    await bus?.dispose();
    bus = undefined;
  });
  const runtime = async (): Promise<Rt> => {
    bus ??= c.bus();
    const rt = await createRuntime({
      service: 'shop',
      events,
      transport: bus.transport(),
      logger: testLogger,
      handleSignals: false,
    });
    live.push(rt);
    return rt;
  };

  /** Publishes one event of every type, in this order. */
  const publishAll = async (rt: Rt): Promise<void> => {
    await rt.publish('order.placed', { id: '1', totalCents: 100 });
    await rt.publish('user.created', { id: 'u' });
    await rt.publish('order.placed.eu', { id: '2', vatCents: 19 });
    await rt.publish('order.shipped', { id: '1', carrier: 'dhl' });
  };

  it("'order.*' receives one token after order, 'order.>' every deeper type, each in stored order", async () => {
    const rt = await runtime();
    const star: string[] = [];
    const rest: string[] = [];
    const starSub = rt.subscribe('order.*', (_p, meta) => void star.push(meta.type), { group: 'star' });
    const restSub = rt.subscribe('order.>', (_p, meta) => void rest.push(meta.type), { group: 'rest' });
    await Promise.all([starSub.ready, restSub.ready]);
    await publishAll(rt);
    await until(() => star.length === 2 && rest.length === 3, 'deliveries to both patterns');
    expect(star).toEqual(['order.placed', 'order.shipped']);
    expect(rest).toEqual(['order.placed', 'order.placed.eu', 'order.shipped']);
    // Events stored before a group subscribed reach it too (a new group starts at the oldest).
    const late: string[] = [];
    await rt.subscribe('*.*', (_p, meta) => void late.push(meta.type), { group: 'late' }).ready;
    await until(() => late.length === 3, 'the late group catching up');
    expect(late).toEqual(['order.placed', 'user.created', 'order.shipped']);
  });

  it('validates each delivery against its own type, and dead-letters with its concrete type and the group', async () => {
    const rt = await runtime();
    const seen: unknown[] = [];
    let failShipped = true;
    const sub = rt.subscribe(
      'order.*',
      (payload, meta) => {
        if (meta.type === 'order.shipped' && failShipped) throw new Error('carrier api down');
        seen.push(payload);
      },
      { group: 'audit', maxAttempts: 1 },
    );
    await sub.ready;
    expect(sub.type).toBe('order.*');
    // A payload valid for order.placed but not for order.shipped, on order.shipped's subject.
    await rt.transport.publishRaw(
      'order.shipped',
      JSON.stringify({
        specversion: '1.0',
        id: 'bad-1',
        source: 'x',
        type: 'order.shipped',
        time: new Date().toISOString(),
        data: { id: '9', totalCents: 1 },
      }),
    );
    await rt.publish('order.shipped', { id: '1', carrier: 'dhl' });
    const dead = await poll(
      () => rt.deadLetters.list(),
      (d) => d.length === 2,
      'two dead letters',
    );
    expect(dead.map((d) => [d.event.type, d.group, d.reason])).toEqual([
      ['order.shipped', 'audit', 'validation'],
      ['order.shipped', 'audit', 'handler'],
    ]);
    expect(dead[0]!.error.message).toMatch(/invalid "order\.shipped" payload: carrier/);
    expect(await rt.deadLetters.list({ type: 'order.shipped' })).toHaveLength(2);

    failShipped = false;
    const handlerLetter = dead[1]!;
    expect(await rt.deadLetters.redrive({ ids: [handlerLetter.id] })).toEqual({ redriven: 1 });
    await until(() => seen.length === 1, 'the redriven event through the pattern consumer');
    expect(seen[0]).toEqual({ id: '1', carrier: 'dhl' });
  });

  it('dead-letters an event on a matching subject whose type this registry does not know', async () => {
    const rt = await runtime();
    let calls = 0;
    await rt.subscribe('order.*', () => void calls++, { group: 'audit', maxAttempts: 5 }).ready;
    await rt.transport.publishRaw(
      'order.refunded',
      JSON.stringify({ specversion: '1.0', id: 'r-1', source: 'x', type: 'order.refunded', data: {} }),
    );
    const [dl] = await poll(
      () => rt.deadLetters.list(),
      (d) => d.length === 1,
      'the dead letter',
    );
    expect(dl).toMatchObject({ reason: 'validation', group: 'audit', attempts: 1 });
    expect(dl!.event.type).toBe('order.refunded');
    expect(dl!.error.message).toBe('unknown event type "order.refunded"');
    expect(calls).toBe(0);
  });

  it('refuses a pattern that matches no registered type, or is malformed, at subscribe', () =>
    runtime().then((rt) => {
      for (const bad of ['invoice.*', 'order.*.*.*', 'order.>.eu', 'ord*']) {
        let err: unknown;
        try {
          rt.subscribe(bad as 'order.*', () => undefined);
        } catch (e) {
          err = e;
        }
        expect(isValidationError(err), bad).toBe(true);
      }
      expect(rt.listSubscriptions()).toHaveLength(0);
    }));

  it('hosts the subscriber as actor subscriber:<group>/<pattern>', async () => {
    const rt = await runtime();
    await rt.subscribe('order.>', () => undefined, { group: 'audit' }).ready;
    const ids = rt.actors.list({ kind: 'subscriber' }).map((a) => a.id);
    expect(ids).toContain('subscriber:audit/order.>');
  });

  it.runIf(c.name === 'nats')(
    'makes a group on a pattern one JetStream consumer filtered by the pattern',
    async () => {
      const rt = await runtime();
      const other = await runtime();
      const seen: string[] = [];
      await rt.subscribe('order.>', (_p, meta) => void seen.push(meta.type), { group: 'audit' }).ready;
      await other.subscribe('order.>', (_p, meta) => void seen.push(meta.type), { group: 'audit' }).ready;
      await publishAll(rt);
      await until(() => seen.length === 3, 'three deliveries across the group');
      const listed = await natsConsumers(bus!);
      const names = new Names(bus!.prefix);
      expect(listed).toEqual([
        { name: names.groupConsumer('audit', 'order.>'), filter: `${bus!.prefix}.events.order.>` },
      ]);
      expect(listed[0]!.name).toMatch(/^[A-Za-z0-9_-]+$/);
    },
  );
});

describe('patterns', () => {
  it("match NATS-style: '*' one token, '>' one or more, last only", () => {
    expect(matchesPattern('order.*', 'order.placed')).toBe(true);
    expect(matchesPattern('order.*', 'order.placed.eu')).toBe(false);
    expect(matchesPattern('order.>', 'order.placed.eu')).toBe(true);
    expect(matchesPattern('order.>', 'order')).toBe(false);
    expect(matchesPattern('*.placed', 'order.placed')).toBe(true);
    expect(matchesPattern('>', 'user.created')).toBe(true);
    expect(isPattern('order.*') && isValidPattern('order.*')).toBe(true);
    expect(isValidPattern('order.>.eu')).toBe(false);
    expect(typesMatching('order.*', events.types)).toEqual(['order.placed', 'order.shipped']);
  });

  it('name a pattern consumer with valid, distinct tokens', () => {
    const names = new Names('p');
    const star = names.groupConsumer('audit', 'order.*');
    const rest = names.groupConsumer('audit', 'order.>');
    const underscore = names.groupConsumer('audit', 'order._');
    for (const n of [star, rest, underscore]) expect(n).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(new Set([star, rest, underscore]).size).toBe(3);
  });
});
