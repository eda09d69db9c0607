// A circuit breaker with a timeout and a fallback, shared by two instances of one service.
// Run: npx tsx examples/02-circuit-breaker.ts
import { pino } from 'pino';
import { z } from 'zod';
import {
  createRuntime,
  defineEvents,
  isCircuitOpenError,
  memoryTransport,
  type Breaker,
  type BreakerState,
} from 'bulwark';

const events = defineEvents({ 'rate.requested': z.object({ currency: z.string() }) });
const logger = pino({ level: 'warn' });

// Two runtimes on one transport stand for two instances of the `pricing` service.
const transport = memoryTransport();
const east = await createRuntime({ service: 'pricing', events, transport, logger });
const west = await createRuntime({ service: 'pricing', events, transport, logger });

// A flaky upstream: it hangs while `down`, and honours the AbortSignal it is given.
let down = true;
function fetchRate(signal: AbortSignal, currency: string): Promise<number> {
  if (!down) return Promise.resolve(currency === 'EUR' ? 1.08 : 1);
  return new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason as Error)));
}

const lastKnown = new Map([['EUR', 1.07]]);
const options = {
  failureThreshold: 3, // three failures in a row open it
  timeoutMs: 100, // each call's signal aborts after 100 ms; a TimeoutError counts as a failure
  resetTimeoutMs: 500, // then OPEN for half a second before one trial call
  shared: true, // both instances see one state (the transport's KV bucket)
};
const eastRates = east.breaker('rates', {
  ...options,
  fallback: (_err: unknown, currency: string) => lastKnown.get(currency) ?? Number.NaN,
});
const westRates = west.breaker('rates', options); // no fallback: callers see CircuitOpenError
await Promise.all([eastRates.ready, westRates.ready]);

/** Resolves once `breaker` is in state `to`. */
function reaches(breaker: Breaker, to: BreakerState): Promise<void> {
  return new Promise((resolve) => {
    if (breaker.state === to) return resolve();
    const off = breaker.on('stateChange', (change) => {
      if (change.to !== to) return;
      off();
      resolve();
    });
  });
}

eastRates.on('stateChange', ({ from, to }) => console.log(`east: ${from} -> ${to}`));
westRates.on('stateChange', ({ from, to }) => console.log(`west: ${from} -> ${to}`));

for (let i = 1; i <= 4; i++) {
  const rate = await eastRates.execute(fetchRate, 'EUR');
  console.log(`east call ${i}: EUR ${rate} (fallback while the upstream hangs or the breaker is open)`);
}

// East opened the breaker; west learns it from the bucket and refuses without calling upstream.
await reaches(westRates, 'OPEN');
try {
  await westRates.execute(fetchRate, 'EUR');
} catch (err) {
  if (isCircuitOpenError(err)) console.log(`west refused: ${err.message}`);
}

// The upstream recovers; after resetTimeoutMs a single trial call, on one instance only, closes it.
down = false;
await reaches(westRates, 'HALF_OPEN');
console.log(`west trial: EUR ${await westRates.execute(fetchRate, 'EUR')}`);
await reaches(eastRates, 'CLOSED');
console.log(`east call 5: EUR ${await eastRates.execute(fetchRate, 'EUR')}`);

console.log('stats:', JSON.stringify(east.breakers.stats().rates));
await Promise.all([east.shutdown(), west.shutdown()]);
