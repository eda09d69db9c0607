// Idempotency section of `npm run bench`: an idempotent subscription against a plain one on NATS.
import { performance } from 'node:perf_hooks';
import { pino } from 'pino';
import { createRuntime } from '../src/runtime/create-runtime.js';
import { natsTransport } from '../src/transport/nats/nats-transport.js';
import { startNatsServer } from '../test/setup/nats-server.js';
import { CONCURRENCY, events, pipelined, ROUNDS, WINDOW } from './jetstream-kit.js';
import { markdownTable, median, perSecond } from './stats.js';
import type { BenchSection } from './types.js';

const logger = pino({ level: 'silent' });
/** Events per row: every idempotent delivery costs two KV writes (claim, done mark). */
const N = 10_000;
const TTL_MS = 3_600_000;

type Rt = Awaited<ReturnType<typeof createRuntime<typeof events.schemas>>>;

/** Resolves once `done()` holds, looking every millisecond. */
async function until(done: () => boolean): Promise<void> {
  while (!done()) await new Promise((r) => setTimeout(r, 1));
}

/** Consumes `N` stored events in `group`; msg/s from the subscription's readiness to the last settle. */
async function consume(rt: Rt, group: string, idempotent: boolean): Promise<number> {
  let runs = 0;
  const sub = rt.subscribe('bench.event', () => void runs++, {
    group,
    concurrency: CONCURRENCY,
    ...(idempotent && { idempotency: { key: (p: { n: number }) => String(p.n), ttlMs: TTL_MS } }),
  });
  await sub.ready;
  const start = performance.now();
  const base = sub.stats().duplicates;
  await until(() => runs + sub.stats().duplicates - base >= N);
  const rate = N / ((performance.now() - start) / 1000);
  await sub.stop();
  return rate;
}

function publish(rt: Rt): Promise<number> {
  return pipelined(N, WINDOW, (i) => rt.publish('bench.event', { n: i, t: performance.now() }));
}

/** Measures plain and idempotent subscriptions over the same stored events, on one private nats-server. */
export async function runIdempotencyBench(): Promise<BenchSection> {
  const server = await startNatsServer();
  const rt = await createRuntime({
    service: 'bench',
    events,
    transport: natsTransport({ servers: server.url, prefix: 'bench' }),
    logger,
  });
  try {
    await publish(rt);
    const plain: number[] = [];
    const fresh: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      plain.push(await consume(rt, `plain${r}`, false));
      fresh.push(await consume(rt, `idem${r}`, true));
    }
    // The same keys again under new event ids: group idem0 finds every one of them done.
    await publish(rt);
    const dupes = await consume(rt, 'idem0', true);
    const base = median(plain);
    const ratio = (x: number) => `${(x / base).toFixed(2)}x`;
    return {
      title: 'Idempotent subscribers on NATS: plain vs idempotent subscribe (same server, same run)',
      table: markdownTable(
        ['measure', 'events/s', 'vs plain'],
        [
          [`plain subscribe, ${CONCURRENCY} in flight`, perSecond(base), '1.00x'],
          [
            'idempotent, every key new (claim + run + done mark)',
            perSecond(median(fresh)),
            ratio(median(fresh)),
          ],
          ['idempotent, every key already done (duplicates acked)', perSecond(dupes), ratio(dupes)],
        ],
      ),
      notes: [
        `nats-server 2.9.10 on loopback, file storage; ${N.toLocaleString('en-US')} stored events per row, read by a new group each; plain and new-key rows: median of ${ROUNDS} interleaved rounds.`,
        'Timed from the subscription being ready to the last event settled (consumer set-up included for every row alike).',
        'An idempotent delivery with a new key costs two KV round trips (create-if-absent claim, done mark) before its ack; a duplicate costs three (the create that fails, the get nats.js makes after it, and bulwark’s get of the mark). KV writes go through nats.js’s `js.publish` (a request each).',
      ],
    };
  } finally {
    await rt.shutdown();
    await server.dispose();
  }
}
