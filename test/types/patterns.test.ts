import { describe, expect, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import { createRuntime, defineEvents, memoryTransport, type EventMeta } from '../../src/index.js';
import type { MatchingTypes } from '../../src/events/patterns.js';

// Checked by `tsc` (`npm run typecheck`): a wrong inference fails the type-check, not a runtime assertion.

const events = defineEvents({
  'order.placed': {
    schema: z.object({ id: z.string(), totalCents: z.number() }),
    version: 2,
    upcast: {
      1: {
        schema: z.object({ id: z.string(), total: z.number() }),
        to: (v1: { id: string; total: number }) => ({ id: v1.id, totalCents: v1.total * 100 }),
      },
    },
  },
  'order.shipped': z.object({ id: z.string(), carrier: z.string() }),
  'order.placed.eu': z.object({ id: z.string(), vatCents: z.number() }),
  'user.created': z.object({ id: z.string(), username: z.string() }),
});

type Placed = { id: string; totalCents: number };
type Shipped = { id: string; carrier: string };
type PlacedEu = { id: string; vatCents: number };
type Types = (typeof events.types)[number];

describe('pattern types', () => {
  it('matches patterns against the registry keys at the type level', () => {
    expectTypeOf<MatchingTypes<Types, 'order.*'>>().toEqualTypeOf<'order.placed' | 'order.shipped'>();
    expectTypeOf<MatchingTypes<Types, 'order.>'>>().toEqualTypeOf<
      'order.placed' | 'order.shipped' | 'order.placed.eu'
    >();
    expectTypeOf<MatchingTypes<Types, '*.placed'>>().toEqualTypeOf<'order.placed'>();
    expectTypeOf<MatchingTypes<Types, '*.*.*'>>().toEqualTypeOf<'order.placed.eu'>();
    expectTypeOf<MatchingTypes<Types, '>'>>().toEqualTypeOf<Types>();
    expectTypeOf<MatchingTypes<Types, 'user.created'>>().toEqualTypeOf<'user.created'>();
    expectTypeOf<MatchingTypes<Types, 'invoice.*'>>().toBeNever();
  });

  it('types a pattern handler with the union of the matching payloads and type names', async () => {
    const rt = await createRuntime({
      service: 'types',
      events,
      transport: memoryTransport(),
      handleSignals: false,
    });
    const star = rt.subscribe('order.*', (payload, meta) => {
      expectTypeOf(payload).toEqualTypeOf<Placed | Shipped>();
      expectTypeOf(meta).toEqualTypeOf<EventMeta<'order.placed' | 'order.shipped'>>();
      expectTypeOf(meta.type).toEqualTypeOf<'order.placed' | 'order.shipped'>();
    });
    const rest = rt.subscribeBatch('order.>', (payloads, metas) => {
      expectTypeOf(payloads).toEqualTypeOf<(Placed | Shipped | PlacedEu)[]>();
      expectTypeOf(metas[0]!.type).toEqualTypeOf<'order.placed' | 'order.shipped' | 'order.placed.eu'>();
    });
    // The newest version's payload, for publishers and subscribers alike.
    const exact = rt.subscribe('order.placed', (payload, meta) => {
      expectTypeOf(payload).toEqualTypeOf<Placed>();
      expectTypeOf(meta.type).toEqualTypeOf<'order.placed'>();
    });
    expectTypeOf(rt.publish<'order.placed'>)
      .parameter(1)
      .toEqualTypeOf<Placed>();
    // @ts-expect-error an unknown exact type is refused at compile time
    expect(() => rt.subscribe('invoice.issued', () => undefined)).toThrow();
    await Promise.all([star.stop(), rest.stop(), exact.stop()]);
    await rt.shutdown();
  });
});
