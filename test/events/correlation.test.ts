import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { z } from 'zod';
import type { EventMeta } from '../../src/actors/subscriber/meta.js';
import { defineEvents } from '../../src/events/registry.js';
import { fixed } from '../../src/retry/backoff.js';
import { createRuntime } from '../../src/runtime/create-runtime.js';
import type { Runtime } from '../../src/runtime/runtime.js';
import { testLogger } from '../support/events.js';
import { transportCases, type TestBus } from '../support/transports.js';
import { poll, until } from '../support/wait.js';

const events = defineEvents({
  'order.placed': z.object({ id: z.string() }),
  'payment.requested': z.object({ orderId: z.string() }),
  'payment.captured': z.object({ orderId: z.string() }),
  'order.shipped': z.object({ id: z.string() }),
});

type ChainRuntime = Runtime<typeof events.schemas>;

/** Log lines as objects, written by a pino logger at `info`. */
function capturedLogger(): { logger: pino.Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n')) if (line) lines.push(JSON.parse(line));
      done();
    },
  });
  return { logger: pino({ level: 'info' }, stream), lines };
}

describe.each(transportCases)('correlation and causation ids on $name', (c) => {
  let bus: TestBus | undefined;
  const runtimes: ChainRuntime[] = [];
  afterEach(async () => {
    await Promise.all(runtimes.splice(0).map((rt) => rt.shutdown()));
    await bus?.dispose();
    bus = undefined;
  });
  const runtime = async (logger: pino.Logger = testLogger): Promise<ChainRuntime> => {
    bus ??= c.bus();
    const rt = await createRuntime({
      service: 'shop',
      events,
      transport: bus.transport(),
      logger,
      handleSignals: false,
    });
    runtimes.push(rt);
    return rt;
  };

  it('a publish inside a handler descends from the handled event, through a chain of three', async () => {
    const rt = await runtime();
    const metas = new Map<string, EventMeta>();
    await rt.subscribe('order.placed', async (o, meta) => {
      metas.set(meta.type, meta);
      await rt.publish('payment.requested', { orderId: o.id });
    }).ready;
    await rt.subscribe('payment.requested', async (p, meta) => {
      metas.set(meta.type, meta);
      await rt.publish('payment.captured', { orderId: p.orderId });
    }).ready;
    await rt.subscribe('payment.captured', (_p, meta) => void metas.set(meta.type, meta)).ready;
    const root = await rt.publish('order.placed', { id: 'o-1' });
    await until(() => metas.size === 3, 'the whole chain handled');
    const placed = metas.get('order.placed')!;
    const requested = metas.get('payment.requested')!;
    const captured = metas.get('payment.captured')!;
    expect(placed).toMatchObject({ id: root.id, correlationId: root.id, causationId: undefined });
    expect(requested).toMatchObject({ correlationId: root.id, causationId: root.id });
    expect(captured).toMatchObject({ correlationId: root.id, causationId: requested.id });
    expect(JSON.parse(JSON.stringify(captured))).toMatchObject({
      correlationId: root.id,
      causationId: requested.id,
    });
  });

  it('a plain function handler passes its lineage to what it publishes while it runs', async () => {
    const rt = await runtime();
    const metas = new Map<string, EventMeta>();
    await rt.subscribe('order.placed', (o, meta) => {
      metas.set(meta.type, meta);
      return rt.publish('payment.requested', { orderId: o.id });
    }).ready;
    await rt.subscribe('payment.requested', (_p, meta) => void metas.set(meta.type, meta)).ready;
    const root = await rt.publish('order.placed', { id: 'o-2' });
    await until(() => metas.size === 2, 'both handled');
    expect(metas.get('payment.requested')).toMatchObject({ correlationId: root.id, causationId: root.id });
    // Outside any handler again: a new chain.
    const next = await rt.publish('order.placed', { id: 'o-3' });
    await until(() => metas.get('order.placed')?.id === next.id, 'the second root');
    expect(metas.get('order.placed')).toMatchObject({ correlationId: next.id, causationId: undefined });
  });

  it('takes ids from publish options, over those it would inherit', async () => {
    const rt = await runtime();
    const metas: EventMeta[] = [];
    await rt.subscribe('order.placed', async (o) => {
      await rt.publish('order.shipped', { id: o.id }, { correlationId: 'override', causationId: 'manual' });
    }).ready;
    await rt.subscribe('order.shipped', (_p, meta) => void metas.push(meta)).ready;
    await rt.subscribe('payment.requested', (_p, meta) => void metas.push(meta)).ready;
    await rt.publish('order.placed', { id: 'o-2' }, { correlationId: 'c-1' });
    await rt.publish('payment.requested', { orderId: 'o-2' }, { correlationId: 'c-2' });
    await until(() => metas.length === 2, 'both events handled');
    const byType = Object.fromEntries(metas.map((m) => [m.type, m]));
    expect(byType['order.shipped']).toMatchObject({ correlationId: 'override', causationId: 'manual' });
    expect(byType['payment.requested']).toMatchObject({ correlationId: 'c-2', causationId: undefined });
  });

  it('keeps each handler its own lineage across awaits while many run at once', async () => {
    const rt = await runtime();
    const captured = new Map<string, EventMeta>();
    const placedIds = new Map<string, string>();
    await rt.subscribe(
      'order.placed',
      async (o, meta) => {
        placedIds.set(o.id, meta.id);
        // Interleave the handlers: each resumes after others have run.
        await new Promise((r) => setTimeout(r, Number(o.id) % 7));
        await rt.publishMany([{ type: 'payment.captured', payload: { orderId: o.id } }]);
      },
      { concurrency: 20 },
    ).ready;
    await rt.subscribe('payment.captured', (p, meta) => void captured.set(p.orderId, meta)).ready;
    await rt.publishMany(
      Array.from({ length: 40 }, (_, i) => ({ type: 'order.placed' as const, payload: { id: String(i) } })),
    );
    await until(() => captured.size === 40, '40 captures');
    for (const [orderId, meta] of captured) {
      expect(meta.causationId).toBe(placedIds.get(orderId));
      expect(meta.correlationId).toBe(placedIds.get(orderId));
    }
  });

  it('carries the ids on the envelope as the extensions correlationid and causationid', async () => {
    const rt = await runtime();
    await rt.subscribe('order.placed', async (o) => {
      await rt.publish('order.shipped', { id: o.id });
    }).ready;
    await rt.subscribe(
      'order.shipped',
      () => {
        throw new Error('carrier down');
      },
      { maxAttempts: 1 },
    ).ready;
    const root = await rt.publish('order.placed', { id: 'o-3' }, { correlationId: 'c-3' });
    const [dl] = await poll(
      () => rt.deadLetters.list(),
      (d) => d.length === 1,
      'dead-lettered child event',
    );
    // On NATS the dead letter's event is what crossed the wire, decoded.
    expect(dl!.event).toMatchObject({ type: 'order.shipped', correlationid: 'c-3', causationid: root.id });
  });

  it("writes the handled event's ids into the log lines written while its handler runs", async () => {
    const { logger, lines } = capturedLogger();
    const rt = await runtime(logger);
    await rt.subscribe('order.placed', async (o) => {
      rt.logger.info({ order: o.id }, 'placing');
      await rt.publish('order.shipped', { id: o.id });
    }).ready;
    await rt.subscribe(
      'order.shipped',
      async () => {
        await Promise.resolve();
        rt.logger.info('shipping');
        throw new Error('carrier down');
      },
      { maxAttempts: 2, backoff: fixed({ delayMs: 1 }) },
    ).ready;
    rt.logger.info('outside any handler');
    const root = await rt.publish('order.placed', { id: 'o-4' }, { correlationId: 'c-4' });
    await poll(
      () => rt.deadLetters.list(),
      (d) => d.length === 1,
      'dead letter',
    );
    const placing = lines.find((l) => l.msg === 'placing')!;
    expect(placing).toMatchObject({ eventId: root.id, correlationId: 'c-4', order: 'o-4' });
    expect(placing).not.toHaveProperty('causationId');
    const shipping = lines.filter((l) => l.msg === 'shipping');
    expect(shipping).toHaveLength(2);
    for (const line of shipping) expect(line).toMatchObject({ correlationId: 'c-4', causationId: root.id });
    // The subscriber's own lines about the attempt name the event too.
    const retry = lines.find((l) => String(l.msg).includes('retrying'))!;
    expect(retry).toMatchObject({ correlationId: 'c-4', causationId: root.id });
    expect(lines.find((l) => l.msg === 'outside any handler')).not.toHaveProperty('correlationId');
  });

  it('a batch handler has no one cause: its publishes start chains of their own', async () => {
    const rt = await runtime();
    const metas: EventMeta[] = [];
    await rt.subscribeBatch(
      'order.placed',
      async (orders) => {
        for (const o of orders) await rt.publish('order.shipped', { id: o.id });
      },
      { batchSize: 2, batchTimeoutMs: 1_000 },
    ).ready;
    await rt.subscribe('order.shipped', (_p, meta) => void metas.push(meta)).ready;
    await rt.publishMany([
      { type: 'order.placed', payload: { id: 'a' } },
      { type: 'order.placed', payload: { id: 'b' } },
    ]);
    await until(() => metas.length === 2, 'both shipped');
    for (const meta of metas) expect(meta).toMatchObject({ correlationId: meta.id, causationId: undefined });
  });
});
