import { describe, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import { createRuntime, defineEvents, memoryTransport, type EventMeta } from '../../src/index.js';

// Checked by `tsc` (`npm run typecheck`): a wrong inference fails the type-check, not a runtime assertion.

const events = defineEvents({
  'user.created': z.object({ id: z.string(), username: z.string() }),
  'order.placed': z.object({ orderId: z.string(), total: z.number() }),
});

describe('handler types', () => {
  it('keeps the payload of the subscribed type when `meta` is annotated as EventMeta', async () => {
    const rt = await createRuntime({
      service: 'types',
      events,
      transport: memoryTransport(),
      handleSignals: false,
    });
    const sub = rt.subscribe('user.created', (user, meta: EventMeta) => {
      expectTypeOf(user).toEqualTypeOf<{ id: string; username: string }>();
      expectTypeOf(meta.type).toEqualTypeOf<string>();
      return user.username.length;
    });
    const batch = rt.subscribeBatch('order.placed', (orders, metas: EventMeta[]) => {
      expectTypeOf(orders).toEqualTypeOf<{ orderId: string; total: number }[]>();
      return orders.map((o) => o.total + metas.length);
    });
    await Promise.all([sub.stop(), batch.stop()]);
    await rt.shutdown();
  });

  it('narrows `meta.type` to the subscribed type when `meta` is not annotated', async () => {
    const rt = await createRuntime({
      service: 'types',
      events,
      transport: memoryTransport(),
      handleSignals: false,
    });
    const sub = rt.subscribe('order.placed', (order, meta) => {
      expectTypeOf(order.total).toEqualTypeOf<number>();
      expectTypeOf(meta).toEqualTypeOf<EventMeta<'order.placed'>>();
    });
    // A narrower annotation than the subscribed type is still refused.
    // @ts-expect-error the handler's meta cannot claim another event type
    rt.subscribe('user.created', (_user, _meta: EventMeta<'order.placed'>) => undefined);
    await sub.stop();
    await rt.shutdown();
  });
});
