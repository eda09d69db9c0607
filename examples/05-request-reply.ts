// Typed request/reply: an endpoint served by two instances of a service (they share the load), a
// caller whose requests are validated both ways, a handler error arriving as RemoteError with its
// code, the caller's deadline aborting the handler, and the endpoint's breaker.
// Run: npx tsx examples/05-request-reply.ts  (in memory; the same code runs on NATS)
import { z } from 'zod';
import {
  createRuntime,
  defineEndpoints,
  defineEvents,
  isRemoteError,
  isTimeoutError,
  isValidationError,
  memoryTransport,
} from 'bulwark';

const api = defineEndpoints({
  'orders.get': {
    request: z.object({ id: z.string() }),
    response: z.object({ id: z.string(), status: z.enum(['open', 'paid']), servedBy: z.string() }),
  },
});

const events = defineEvents({});
const bus = memoryTransport(); // runtimes on one transport behave like services on one broker
const instance = (service: string) =>
  createRuntime({ service, events, transport: bus, handleSignals: false });
const [orders1, orders2, shop] = await Promise.all([
  instance('orders'),
  instance('orders'),
  instance('shop'),
]);

for (const [rt, name] of [
  [orders1, 'orders#1'],
  [orders2, 'orders#2'],
] as const) {
  rt.handle(
    api,
    'orders.get',
    async (req, meta) => {
      if (req.id === 'missing') throw new Error(`order ${req.id} does not exist`);
      if (req.id === 'slow') await new Promise((r) => meta.signal.addEventListener('abort', r));
      return { id: req.id, status: 'paid' as const, servedBy: name };
    },
    { concurrency: 8, timeoutMs: 5_000 },
  );
}
await Promise.all([...orders1.listEndpoints(), ...orders2.listEndpoints()].map((e) => e.ready));

for (const id of ['1', '2', '3', '4']) {
  const order = await shop.request(api, 'orders.get', { id }, { timeoutMs: 2_000 });
  console.log(`order ${order.id} is ${order.status} (served by ${order.servedBy})`);
}

try {
  await shop.request(api, 'orders.get', { id: 42 as unknown as string });
} catch (err) {
  if (isValidationError(err)) console.log('refused before sending:', err.message);
}

try {
  await shop.request(api, 'orders.get', { id: 'missing' });
} catch (err) {
  if (isRemoteError(err)) console.log(`remote error ${err.code}: ${err.message}`);
}

const started = Date.now();
try {
  await shop.request(api, 'orders.get', { id: 'slow' }, { timeoutMs: 100 });
} catch (err) {
  // The handler's own timeout is 5 s; the caller's 100 ms travelled with the request and aborted it.
  if (isTimeoutError(err))
    console.log(`timed out after ${Date.now() - started} ms; the handler was aborted too`);
}

console.log('breaker of the remote endpoint:', shop.breakers.stats()['rpc:orders.get']?.state);
console.log('served by orders#1:', orders1.listEndpoints()[0]?.stats());

await Promise.all([shop.shutdown(), orders1.shutdown(), orders2.shutdown()]);
