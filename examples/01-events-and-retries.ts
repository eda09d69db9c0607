// Typed events, a handler that fails and is retried with backoff, a dead letter, and a redrive.
// Run: npx tsx examples/01-events-and-retries.ts
import { z } from 'zod';
import { createRuntime, defineEvents, fixed, isValidationError } from 'bulwark';

const events = defineEvents({
  'order.placed': z.object({ orderId: z.string(), amount: z.number().positive() }),
});

const rt = await createRuntime({ service: 'shop', events, logger: undefined });

let warehouseUp = false;
const sub = rt.subscribe(
  'order.placed',
  async (order, meta) => {
    if (!warehouseUp) throw new Error(`warehouse unreachable (attempt ${meta.attempt})`);
    console.log(`reserved stock for ${order.orderId}`);
  },
  { group: 'warehouse', maxAttempts: 3, backoff: fixed({ delayMs: 50 }) },
);
await sub.ready;

try {
  await rt.publish('order.placed', { orderId: 'o-0', amount: -5 });
} catch (err) {
  if (isValidationError(err)) console.log('refused:', err.issues[0]?.message);
}

await rt.publish('order.placed', { orderId: 'o-1', amount: 42 });

// three attempts, 50 ms apart, then the event is dead-lettered with its reason
while ((await rt.deadLetters.count()) === 0) await new Promise((r) => setTimeout(r, 20));
const [dead] = await rt.deadLetters.list();
console.log(`dead letter: ${dead?.reason} after ${dead?.attempts} attempts: ${dead?.error.message}`);

warehouseUp = true;
await rt.deadLetters.redrive({ type: 'order.placed' });
while (sub.stats().handled === 0) await new Promise((r) => setTimeout(r, 20));

await rt.shutdown();
