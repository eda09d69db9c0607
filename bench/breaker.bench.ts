// Circuit breakers side by side in one run: bulwark, cockatiel and opossum.
// Standalone: `npx tsx bench/breaker.bench.ts`. Call overheads are measured in this process; each
// heap figure in a fresh child (`node --expose-gc --import tsx bench/breaker.bench.ts --heap <subject>`),
// so that no subject's garbage or JIT state lands in another's figure.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import {
  circuitBreaker,
  ConsecutiveBreaker,
  handleAll,
  SamplingBreaker,
  timeout,
  TimeoutStrategy,
  wrap,
} from 'cockatiel';
import CircuitBreaker from 'opossum';
import { createBreaker, type Breaker } from '../src/breaker/index.js';
import { markdownTable, median } from './stats.js';
import type { BenchSection } from './types.js';

type AsyncCall = () => Promise<unknown>;

const ROUNDS = 9;
const CALLS = 200_000;
const BREAKERS = 10_000;

const one = async (): Promise<number> => 1;
const failure = new Error('down');
const noop = (): undefined => undefined;

/** ns per awaited call of `call`, over `n` calls in a row. */
async function nsPerCall(call: AsyncCall, n: number): Promise<number> {
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await call();
  return Number(process.hrtime.bigint() - start) / n;
}

/**
 * Median ns/call of each subject; the subjects take turns in every round so that drift of the
 * machine (frequency, other load) spreads over all of them alike.
 */
async function measure(calls: number, subjects: Record<string, AsyncCall>): Promise<Record<string, number>> {
  const samples: Record<string, number[]> = {};
  for (const [name, call] of Object.entries(subjects)) {
    await nsPerCall(call, calls / 4); // warm-up: let the JIT settle on this path
    samples[name] = [];
  }
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, call] of Object.entries(subjects)) samples[name]!.push(await nsPerCall(call, calls));
  }
  return Object.fromEntries(Object.entries(samples).map(([name, s]) => [name, median(s)]));
}

/** Heap (plus array buffers) retained per breaker while `BREAKERS` of them are alive. Needs --expose-gc. */
async function bytesPer(make: (i: number) => unknown, release: (x: unknown) => void): Promise<number> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('heap figures need node --expose-gc');
  const used = () => {
    const m = process.memoryUsage();
    return m.heapUsed + m.arrayBuffers;
  };
  gc();
  gc();
  const before = used();
  const kept: unknown[] = [];
  for (let i = 0; i < BREAKERS; i++) kept.push(make(i));
  await new Promise((r) => setImmediate(r));
  gc();
  gc();
  const perBreaker = (used() - before) / BREAKERS;
  kept.forEach(release);
  return perBreaker;
}

// The subjects, built alike: rate-based (bulwark's default count window of 100 / cockatiel's
// SamplingBreaker / opossum's rolling window), consecutive (5 in a row), and with a 10 s per-call
// timeout whose AbortSignal reaches the call (cockatiel: a cooperative timeout policy wrapped around
// the breaker; opossum's default `timeout` has no signal).
const build = {
  bulwarkRate: () => createBreaker('bench-rate'),
  bulwarkConsecutive: () => createBreaker('bench-consecutive', { failureThreshold: 5 }),
  bulwarkTimeout: () => createBreaker('bench-timeout', { timeoutMs: 10_000 }),
  cockatielRate: () =>
    circuitBreaker(handleAll, {
      halfOpenAfter: 60_000,
      breaker: new SamplingBreaker({ threshold: 0.5, duration: 60_000 }),
    }),
  cockatielConsecutive: () =>
    circuitBreaker(handleAll, { halfOpenAfter: 60_000, breaker: new ConsecutiveBreaker(5) }),
  opossum: (options?: CircuitBreaker.Options) => new CircuitBreaker(one, options),
};

async function closedPath() {
  const b = {
    rate: build.bulwarkRate(),
    consecutive: build.bulwarkConsecutive(),
    timeout: build.bulwarkTimeout(),
  };
  const c = { rate: build.cockatielRate(), consecutive: build.cockatielConsecutive() };
  const cockatielTimeout = wrap(timeout(10_000, TimeoutStrategy.Cooperative), build.cockatielRate());
  const o = { timeout: build.opossum(), none: build.opossum({ timeout: false }) };
  const result = await measure(CALLS, {
    bare: one,
    'bulwark rate': () => b.rate.execute(one),
    'bulwark consecutive': () => b.consecutive.execute(one),
    'bulwark timeout': () => b.timeout.execute(one),
    'cockatiel rate': () => c.rate.execute(one),
    'cockatiel consecutive': () => c.consecutive.execute(one),
    'cockatiel timeout': () => cockatielTimeout.execute(one),
    'opossum rate': () => o.none.fire(),
    'opossum timeout': () => o.timeout.fire(),
  });
  Object.values(b).forEach((x) => x.dispose());
  Object.values(o).forEach((x) => x.shutdown());
  return result;
}

async function openPath() {
  const ours = build.bulwarkRate();
  ours.open();
  const cockatiel = build.cockatielRate();
  cockatiel.isolate();
  const opossum = build.opossum();
  opossum.open();
  const throws = async (): Promise<never> => {
    throw failure;
  };
  const result = await measure(CALLS / 4, {
    bare: () => throws().catch(noop),
    bulwark: () => ours.execute(one).catch(noop),
    cockatiel: () => cockatiel.execute(one).catch(noop),
    opossum: () => opossum.fire().catch(noop),
  });
  ours.dispose();
  opossum.shutdown();
  return result;
}

const dispose = (b: unknown) => (b as Breaker).dispose();
const HEAP_SUBJECTS: Record<string, () => Promise<number>> = {
  'bulwark rate': () => bytesPer(build.bulwarkRate, dispose),
  'bulwark consecutive': () => bytesPer(build.bulwarkConsecutive, dispose),
  // An OPEN breaker runs its XState actor (and its reset timer while automatically OPEN).
  'bulwark open': () =>
    bytesPer(() => {
      const b = build.bulwarkRate();
      b.open();
      return b;
    }, dispose),
  'cockatiel rate': () => bytesPer(build.cockatielRate, noop),
  'cockatiel consecutive': () => bytesPer(build.cockatielConsecutive, noop),
  opossum: () =>
    bytesPer(
      () => build.opossum(),
      (b) => (b as CircuitBreaker).shutdown(),
    ),
};

/** Each heap subject in its own fresh process. */
function heap(): Record<string, number> {
  const file = fileURLToPath(import.meta.url);
  const out: Record<string, number> = {};
  for (const subject of Object.keys(HEAP_SUBJECTS)) {
    const args = ['--expose-gc', '--import', 'tsx', file, '--heap', subject];
    out[subject] = Number(execFileSync(process.execPath, args, { encoding: 'utf8' }).trim());
  }
  return out;
}

const ns = (n: number) => `${n.toFixed(0)} ns`;
const kb = (n: number) => `${(n / 1024).toFixed(2)} KB`;

function rows(closed: Record<string, number>, open: Record<string, number>, mem: Record<string, number>) {
  const over = (r: Record<string, number>, k: string) => r[k]! - r.bare!;
  const row = (label: string, b: number, c: number, o: number, fmt: (n: number) => string) => [
    label,
    fmt(b),
    fmt(c),
    fmt(o),
    (b / c).toFixed(2),
  ];
  return [
    row(
      'closed, rate window: ns/call over a bare call',
      over(closed, 'bulwark rate'),
      over(closed, 'cockatiel rate'),
      over(closed, 'opossum rate'),
      ns,
    ),
    row(
      'closed, consecutive: ns/call over a bare call',
      over(closed, 'bulwark consecutive'),
      over(closed, 'cockatiel consecutive'),
      over(closed, 'opossum rate'),
      ns,
    ),
    row(
      'closed, 10 s timeout per call: ns/call over a bare call',
      over(closed, 'bulwark timeout'),
      over(closed, 'cockatiel timeout'),
      over(closed, 'opossum timeout'),
      ns,
    ),
    row(
      'open: refusal, ns/call over a bare rejected call',
      over(open, 'bulwark'),
      over(open, 'cockatiel'),
      over(open, 'opossum'),
      ns,
    ),
    row(
      `heap per breaker (${BREAKERS.toLocaleString('en-US')} alive), rate window`,
      mem['bulwark rate']!,
      mem['cockatiel rate']!,
      mem.opossum!,
      kb,
    ),
    row(
      'heap per breaker, consecutive',
      mem['bulwark consecutive']!,
      mem['cockatiel consecutive']!,
      mem.opossum!,
      kb,
    ),
    row(
      'heap per breaker, rate window, while OPEN (actor running)',
      mem['bulwark open']!,
      mem['cockatiel rate']!,
      mem.opossum!,
      kb,
    ),
  ];
}

/** Runs every breaker measurement (heap ones in child processes) and returns BENCHMARKS.md's section. */
export async function runBreakerBench(): Promise<BenchSection> {
  const closed = await closedPath();
  const open = await openPath();
  const mem = heap();
  const table = markdownTable(
    ['measure', 'bulwark', 'cockatiel', 'opossum', 'bulwark / cockatiel'],
    rows(closed, open, mem),
  );
  return {
    title: 'Circuit breakers: bulwark vs cockatiel vs opossum',
    table,
    notes: [
      `Call costs: medians of ${ROUNDS} rounds of awaited calls in a row (${CALLS.toLocaleString('en-US')} per round, ` +
        `a quarter of that for refusals), subjects interleaved in each round; a bare \`async () => 1\` took ` +
        `${ns(closed.bare!)}, a bare rejected call ${ns(open.bare!)}.`,
      "Rate window: bulwark's default (last 100 calls), cockatiel `SamplingBreaker({ threshold: 0.5, duration: 60_000 })`, " +
        'opossum `{ timeout: false }` (its rolling window is always on). Consecutive: `failureThreshold: 5` / ' +
        '`ConsecutiveBreaker(5)`; opossum has no such mode and shows its rate figure.',
      'Timeout: bulwark `timeoutMs: 10_000` (an AbortController per call, as a signal must abort); cockatiel ' +
        '`wrap(timeout(10_000, TimeoutStrategy.Cooperative), breaker)`; opossum default options (a timer per call, no signal).',
      'A refusal rejects with a CircuitOpenError built without a stack trace in bulwark (the message names the ' +
        'breaker); cockatiel and opossum capture one.',
      "bulwark runs a breaker's XState actor from the first event it must hear (the window trips, a manual " +
        "call, a peer's write) until the breaker is CLOSED again, and all along when an inspector is attached; " +
        '"while OPEN" measures breakers that hold their actor (forced open: no reset timer).',
      'Heap: `heapUsed + arrayBuffers` after two forced GCs with 10,000 breakers alive, in a fresh ' +
        '`node --expose-gc` process per subject; opossum also keeps 2 interval timers per breaker.',
    ],
  };
}

const heapArg = process.argv.indexOf('--heap');
if (import.meta.url === `file://${process.argv[1]}` && heapArg > 0) {
  const subject = HEAP_SUBJECTS[process.argv[heapArg + 1] ?? ''];
  if (!subject) throw new Error(`unknown heap subject (have: ${Object.keys(HEAP_SUBJECTS).join(', ')})`);
  console.log(await subject());
} else if (import.meta.url === `file://${process.argv[1]}`) {
  const section = await runBreakerBench();
  console.log(`## ${section.title}\n\n${section.table}\n\n${section.notes.map((n) => `- ${n}`).join('\n')}`);
}
