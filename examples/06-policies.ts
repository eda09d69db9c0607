// Resilience policies composed: a rate limit shared by two instances, a bulkhead, retries, a
// circuit breaker and a per-try timeout, around one flaky upstream.
// Run: npx tsx examples/06-policies.ts
import { pino } from 'pino';
import { z } from 'zod';
import {
  API_RETRY_POLICY,
  bulkhead,
  createRuntime,
  defineEvents,
  isBulkheadRejectedError,
  isCircuitOpenError,
  isRateLimitedError,
  isTimeoutError,
  memoryTransport,
  protect,
  retry,
  timeout,
  wrap,
} from 'bulwark';

const events = defineEvents({ 'quote.requested': z.object({ sku: z.string() }) });
const logger = pino({ level: 'warn' });

// Two runtimes on one transport stand for two instances of the `shop` service.
const transport = memoryTransport();
const east = await createRuntime({ service: 'shop', events, transport, logger });
const west = await createRuntime({ service: 'shop', events, transport, logger });

// 1. One budget across instances: 5 calls per second in all, kept in the transport's KV bucket.
const eastLimit = east.rateLimiter({ limit: 5, intervalMs: 1_000, shared: 'supplier-api' });
const westLimit = west.rateLimiter({ limit: 5, intervalMs: 1_000, shared: 'supplier-api' });
const spent: string[] = [];
for (const [who, limit] of [
  ['east', eastLimit],
  ['west', westLimit],
  ['east', eastLimit],
] as const) {
  for (let i = 0; i < 2; i++) {
    try {
      await limit.execute(() => spent.push(who));
    } catch (err) {
      if (isRateLimitedError(err)) spent.push(`${who} refused (retry in ${err.retryAfterMs} ms)`);
    }
  }
}
console.log('shared budget of 5:', spent.join(', '));

// 2. A bulkhead: two calls at once, one more waiting, the rest refused at once.
const pool = bulkhead({ maxConcurrent: 2, maxQueue: 1 });
const slow = () => new Promise<string>((resolve) => setTimeout(() => resolve('done'), 50));
const results = await Promise.allSettled([1, 2, 3, 4].map(() => pool.execute(slow)));
console.log(
  'bulkhead:',
  results.map((r) =>
    r.status === 'fulfilled' ? r.value : isBulkheadRejectedError(r.reason) ? 'refused' : 'failed',
  ),
);

// 3. A composed policy, outermost first: retries around a breaker around a 100 ms timeout per try.
let hangs = 2; // the upstream hangs twice, then answers; it honours its AbortSignal
function quote(signal: AbortSignal, sku: string): Promise<number> {
  if (hangs-- <= 0) return Promise.resolve(sku.length * 10);
  return new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason as Error)));
}
const breaker = east.breaker('supplier', { failureThreshold: 3, resetTimeoutMs: 1_000 });
const policy = wrap(
  retry({ ...API_RETRY_POLICY, backoff: { delay: () => 20 }, onRetry: (err, n) => log(err, n) }),
  breaker,
  timeout(100),
);
function log(err: unknown, attempt: number): void {
  const what = isTimeoutError(err) ? 'timed out' : isCircuitOpenError(err) ? 'refused' : 'failed';
  console.log(`  try ${attempt} ${what}; retrying`);
}
console.log('composed:', await policy.execute((signal) => quote(signal, 'sku-1')));
console.log('breaker saw:', JSON.stringify(breaker.stats()));

// 4. protect() takes any policy: every method of the client goes through it.
const supplier = protect(
  { price: (sku: string) => Promise.resolve(sku.length) },
  { policy: wrap(eastLimit, pool, timeout(1_000)) },
);
await new Promise((r) => setTimeout(r, 1_000)); // let the shared budget refill
console.log('protected client:', await supplier.price('sku-22'));

await Promise.all([east.shutdown(), west.shutdown()]);
