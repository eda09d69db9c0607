import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { EventEmitter } from 'node:events';
import { z } from 'zod';
import { pino } from 'pino';
import { createRuntime, defineEvents } from '../src/index.js';
import { markdownTable, median, ms, perSecond, quantile } from './stats.js';
import type { BenchSection } from './types.js';

const userSchema = () => z.object({ id: z.string(), username: z.string(), role: z.enum(['user', 'admin']) });
const events = defineEvents({ 'user.created': userSchema() });
// The baseline validates with a schema of its own, as a separate program would. The notes list
// every process's ratio: V8's heuristics (allocation-site pretenuring) can make one settle in
// slower code, which is what the spread shows.
const schema = userSchema();
const payload = (i: number) => ({ id: String(i), username: `user-${i}`, role: 'user' as const });
const silent = pino({ level: 'silent' });

/** The unavoidable work, written by hand: validate, build the envelope, deliver through an EventEmitter. */
function baseline() {
  const emitter = new EventEmitter();
  return {
    publish(data: unknown) {
      const parsed = schema.parse(data);
      const event = {
        specversion: '1.0',
        id: randomUUID(),
        source: 'bench',
        type: 'user.created',
        time: new Date().toISOString(),
        datacontenttype: 'application/json',
        data: parsed,
      };
      emitter.emit('user.created', event);
    },
    on(handler: (event: { data: unknown }) => void) {
      emitter.on('user.created', handler);
    },
  };
}

async function baselineThroughput(n: number): Promise<number> {
  const bus = baseline();
  let handled = 0;
  bus.on(() => void handled++);
  const start = performance.now();
  for (let i = 0; i < n; i++) bus.publish(payload(i));
  if (handled !== n) throw new Error('baseline lost events');
  return n / ((performance.now() - start) / 1000);
}

type BenchRuntime = Awaited<ReturnType<typeof createRuntime<typeof events.schemas>>>;

/** One round on a service's runtime: a subscription for the round, then stopped. */
async function bulwarkThroughput(
  rt: BenchRuntime,
  n: number,
  concurrency: number,
  asyncHandler = false,
): Promise<number> {
  let handled = 0;
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  const count = (): void => void (++handled === n && done());
  // An `async` handler carries its event through its awaits (async context): a cost of its own.
  const handler = asyncHandler ? async () => count() : count;
  const sub = rt.subscribe('user.created', handler, { concurrency });
  await sub.ready;
  const start = performance.now();
  for (let i = 0; i < n; i++) await rt.publish('user.created', payload(i));
  await finished;
  const rate = n / ((performance.now() - start) / 1000);
  await sub.stop();
  return rate;
}

async function baselineLatency(n: number): Promise<number[]> {
  const bus = baseline();
  const samples: number[] = [];
  let sent = 0;
  bus.on(() => samples.push(performance.now() - sent));
  for (let i = 0; i < n; i++) {
    sent = performance.now();
    bus.publish(payload(i));
    await new Promise((r) => setImmediate(r));
  }
  return samples;
}

async function bulwarkLatency(n: number): Promise<number[]> {
  const rt = await createRuntime({ service: 'bench', events, logger: silent });
  const samples: number[] = [];
  let sent = 0;
  let next!: () => void;
  await rt.subscribe('user.created', () => {
    samples.push(performance.now() - sent);
    next();
  }).ready;
  for (let i = 0; i < n; i++) {
    const handled = new Promise<void>((r) => (next = r));
    sent = performance.now();
    await rt.publish('user.created', payload(i));
    await handled;
  }
  await rt.shutdown();
  return samples;
}

const N = 100_000;
const ROUNDS = 5;
/** Fresh processes the throughput is measured in; each figure is the median over them. */
const PROCESSES = 5;

interface Throughput {
  base: number;
  c1: number;
  c16: number;
}

/** An `async` handler's throughput, in a process of its own: async context, once on, stays on. */
async function asyncThroughput(): Promise<{ base: number; async: number }> {
  const base: number[] = [];
  const out: number[] = [];
  const rt = await createRuntime({ service: 'bench', events, logger: silent, handleSignals: false });
  await baselineThroughput(20_000);
  await bulwarkThroughput(rt, 20_000, 1, true);
  for (let r = 0; r < ROUNDS; r++) {
    base.push(await baselineThroughput(N));
    out.push(await bulwarkThroughput(rt, N, 1, true));
  }
  await rt.shutdown();
  return { base: median(base), async: median(out) };
}

/** One process's throughput: medians of {@link ROUNDS} interleaved rounds after a warm-up. */
async function throughput(): Promise<Throughput> {
  const base: number[] = [];
  const c1: number[] = [];
  const c16: number[] = [];
  // One runtime for the process, as a service has.
  const rt = await createRuntime({ service: 'bench', events, logger: silent, handleSignals: false });
  await baselineThroughput(20_000);
  await bulwarkThroughput(rt, 20_000, 1);
  for (let r = 0; r < ROUNDS; r++) {
    base.push(await baselineThroughput(N));
    c1.push(await bulwarkThroughput(rt, N, 1));
    c16.push(await bulwarkThroughput(rt, N, 16));
  }
  await rt.shutdown();
  return { base: median(base), c1: median(c1), c16: median(c16) };
}

/** Runs {@link throughput} (or, with `mode`, {@link asyncThroughput}) in a fresh child process. */
function throughputInChild<T = Throughput>(mode = '--throughput'): T {
  const file = fileURLToPath(import.meta.url);
  const out = execFileSync(process.execPath, ['--import', 'tsx', file, mode], { encoding: 'utf8' });
  return JSON.parse(out.trim().split('\n').at(-1)!) as T;
}

/** Memory transport publish -> handler -> ack against the hand-written baseline, in one run. */
export async function runCoreBench(): Promise<BenchSection> {
  const runs = Array.from({ length: PROCESSES }, () => throughputInChild());
  const asyncRuns = Array.from({ length: 3 }, () =>
    throughputInChild<{ base: number; async: number }>('--throughput-async'),
  );
  const asyncRatio = median(asyncRuns.map((r) => r.async / r.base));
  const ratios = runs.map((r) => r.c1 / r.base).sort((x, y) => x - y);
  const base = runs.map((r) => r.base);
  const c1 = runs.map((r) => r.c1);
  const c16 = runs.map((r) => r.c16);
  // Latency in this process, after a warm-up of its own.
  await baselineLatency(5_000);
  await bulwarkLatency(5_000);
  const baseLat = await baselineLatency(5_000);
  const bwLat = await bulwarkLatency(5_000);
  const b = median(base);
  const rows = [
    [
      'hand-written baseline (zod + envelope + EventEmitter)',
      perSecond(b),
      '1.00',
      ms(quantile(baseLat, 0.5)),
      ms(quantile(baseLat, 0.99)),
    ],
    [
      'bulwark memory transport, concurrency 1',
      perSecond(median(c1)),
      (median(c1) / b).toFixed(2),
      ms(quantile(bwLat, 0.5)),
      ms(quantile(bwLat, 0.99)),
    ],
    [
      'bulwark memory transport, concurrency 16',
      perSecond(median(c16)),
      (median(c16) / b).toFixed(2),
      '',
      '',
    ],
    [
      'bulwark, an `async` handler, concurrency 1 (3 processes)',
      perSecond(median(asyncRuns.map((r) => r.async))),
      asyncRatio.toFixed(2),
      '',
      '',
    ],
  ];
  return {
    title: 'Event delivery on the memory transport (publish -> handler -> ack)',
    table: markdownTable(
      [
        '',
        `throughput (median of ${PROCESSES} processes)`,
        'ratio to baseline',
        'latency p50',
        'latency p99',
      ],
      rows,
    ),
    notes: [
      `Throughput: each of ${PROCESSES} fresh processes takes the median of ${ROUNDS} interleaved rounds of ${N.toLocaleString('en-US')} events per subject; the table shows the median over processes. Concurrency 1 per process, as a ratio to the baseline: ${ratios.map((x) => x.toFixed(2)).join(', ')} (one runtime per process, a subscription per round).`,
      'Throughput: `await rt.publish()` in a loop, handler a no-op, until the last event is acked; the baseline does the same work synchronously.',
      "The `async` row: the same no-op as an `async` function, which carries its event through its awaits (correlation and causation ids) with Node's AsyncLocalStorage; on Node 20 that puts a hook on every promise of the process, so it runs in processes of its own, its ratio against the baseline measured there.",
      'Latency: one event at a time, publish call to handler entry, 5,000 samples each.',
      'bulwark also validates the payload again on receipt, tracks attempts, deadlines and acks, which the baseline does not.',
    ],
  };
}

if (import.meta.url === `file://${process.argv[1]}` && process.argv.includes('--throughput')) {
  console.log(JSON.stringify(await throughput()));
} else if (import.meta.url === `file://${process.argv[1]}` && process.argv.includes('--throughput-async')) {
  console.log(JSON.stringify(await asyncThroughput()));
} else if (import.meta.url === `file://${process.argv[1]}`) {
  const section = await runCoreBench();
  console.log(section.table);
}
