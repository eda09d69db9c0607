// Patterns section of `npm run bench`: a group on a pattern (`bench.order.*`) against a group on the
// exact type, over the same events, on the memory transport and on NATS.
import { performance } from 'node:perf_hooks';
import { pino } from 'pino';
import { z } from 'zod';
import { defineEvents } from '../src/events/registry.js';
import { createRuntime } from '../src/runtime/create-runtime.js';
import { memoryTransport } from '../src/transport/memory/memory-transport.js';
import { natsTransport } from '../src/transport/nats/nats-transport.js';
import type { Transport } from '../src/transport/transport.js';
import { startNatsServer } from '../test/setup/nats-server.js';
import { CONCURRENCY, pipelined, WINDOW } from './jetstream-kit.js';
import { markdownTable, median, perSecond } from './stats.js';
import type { BenchSection } from './types.js';

const logger = pino({ level: 'silent' });
const order = z.object({ n: z.number(), t: z.number() });
/** Three types the pattern matches and one it does not: the pattern reader merges three logs. */
const events = defineEvents({
  'bench.order.placed': order,
  'bench.order.shipped': order,
  'bench.order.cancelled': order,
  'bench.user.created': order,
});
const EXACT = 'bench.order.placed';
const PATTERN = 'bench.order.*';
const MEMORY_N = 50_000;
const NATS_N = 20_000;
const ROUNDS = 5;

type Rt = Awaited<ReturnType<typeof createRuntime<typeof events.schemas>>>;

/** Resolves once `done()` holds, looking every millisecond. */
async function until(done: () => boolean): Promise<void> {
  while (!done()) await new Promise((r) => setTimeout(r, 1));
}

/** A subscription of `group` to `target`; resolves with events/s from readiness to the `n`th handled. */
async function consume(
  rt: Rt,
  target: typeof EXACT | typeof PATTERN,
  group: string,
  n: number,
  work?: () => Promise<unknown>,
) {
  let handled = 0;
  const sub = rt.subscribe(target, () => void handled++, { group, concurrency: CONCURRENCY });
  await sub.ready;
  const start = performance.now();
  await work?.();
  await until(() => handled >= n);
  const rate = n / ((performance.now() - start) / 1000);
  await sub.stop();
  return rate;
}

/** Publishes `n` events of the exact type, pipelined. */
function publish(rt: Rt, n: number): Promise<unknown> {
  return pipelined(n, WINDOW, (i) => rt.publish(EXACT, { n: i, t: performance.now() }));
}

async function runtimeOn(transport: Transport): Promise<Rt> {
  return createRuntime({ service: 'bench', events, transport, logger, handleSignals: false });
}

/**
 * Memory: one round on a fresh transport (a stopped group would hold its place in the log and
 * bound the next round's backlog): subscribes, publishes `MEMORY_N` while it consumes, waits for the last.
 */
async function memoryRound(target: typeof EXACT | typeof PATTERN): Promise<number> {
  const rt = await runtimeOn(memoryTransport());
  try {
    // Events of the other matching types exist: the pattern's reader has three logs to merge.
    await rt.publish('bench.order.shipped', { n: 0, t: 0 });
    await rt.publish('bench.order.cancelled', { n: 0, t: 0 });
    const extra = target === PATTERN ? 2 : 0;
    return await consume(rt, target, 'bench', MEMORY_N + extra, () => publish(rt, MEMORY_N));
  } finally {
    await rt.shutdown();
  }
}

async function memoryRounds(): Promise<{ exact: number; pattern: number }> {
  const exact: number[] = [];
  const pattern: number[] = [];
  await memoryRound(EXACT);
  await memoryRound(PATTERN);
  for (let r = 0; r < ROUNDS; r++) {
    exact.push(await memoryRound(EXACT));
    pattern.push(await memoryRound(PATTERN));
  }
  return { exact: median(exact), pattern: median(pattern) };
}

/** NATS: `NATS_N` events stored once; each round a new group consumes them through its durable consumer. */
async function natsRounds(): Promise<{ exact: number; pattern: number }> {
  const server = await startNatsServer();
  const rt = await runtimeOn(natsTransport({ servers: server.url, prefix: 'bench' }));
  const exact: number[] = [];
  const pattern: number[] = [];
  try {
    await publish(rt, NATS_N);
    for (let r = 0; r < ROUNDS; r++) {
      exact.push(await consume(rt, EXACT, `exact${r}`, NATS_N));
      pattern.push(await consume(rt, PATTERN, `pattern${r}`, NATS_N));
    }
  } finally {
    await rt.shutdown();
    await server.stop();
  }
  return { exact: median(exact), pattern: median(pattern) };
}

/** Measures pattern-subscribed delivery against exact-type delivery on both transports. */
export async function runPatternsBench(): Promise<BenchSection> {
  const memory = await memoryRounds();
  const nats = await natsRounds();
  const row = (name: string, r: { exact: number; pattern: number }) => [
    name,
    perSecond(r.exact),
    perSecond(r.pattern),
    `${(r.pattern / r.exact).toFixed(2)}x`,
  ];
  return {
    title: 'Pattern subscriptions',
    table: markdownTable(
      ['transport', `exact type (${EXACT})`, `pattern (${PATTERN})`, 'pattern / exact (goal >= 0.9x)'],
      [row('memory', memory), row('NATS', nats)],
    ),
    notes: [
      `memory: ${MEMORY_N.toLocaleString('en-US')} events per round, published while the group consumes (publish included for both); the pattern's reader merges the logs of three matching types by sequence.`,
      `NATS: ${NATS_N.toLocaleString('en-US')} stored events per round, consumed by a new group's durable consumer (filter \`<prefix>.events.${EXACT}\` or \`<prefix>.events.${PATTERN}\`), timed from readiness to the last handled.`,
      `concurrency ${CONCURRENCY}; median of ${ROUNDS} interleaved rounds after a warm-up (memory).`,
    ],
  };
}
