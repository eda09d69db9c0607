// Resilience policies side by side in one run: bulwark against cockatiel 4, p-limit 7, limiter 4
// and bottleneck 2. Standalone: `npx tsx bench/policy.bench.ts`; in BENCHMARKS.md: `npx tsx bench/main.ts policy`.
import Bottleneck from 'bottleneck';
import {
  bulkhead as cockatielBulkhead,
  circuitBreaker,
  ConsecutiveBreaker,
  ExponentialBackoff,
  handleAll,
  retry as cockatielRetry,
  timeout as cockatielTimeout,
  TimeoutStrategy,
  wrap as cockatielWrap,
} from 'cockatiel';
import { RateLimiter as TokenLimiter } from 'limiter';
import pLimit from 'p-limit';
import { createBreaker } from '../src/breaker/index.js';
import { bulkhead, rateLimiter, timeout, wrap } from '../src/policy/index.js';
import { exponential } from '../src/retry/backoff.js';
import { retry } from '../src/retry/retry.js';
import { markdownTable, median } from './stats.js';
import type { BenchSection } from './types.js';

type Run = () => Promise<unknown>;

const ROUNDS = 9;
const CALLS = 100_000;
const BOTTLENECK_CALLS = 200;
/** Calls started at once in the queued scenario: ten times the slots, so that 90% wait. */
const BURST = 100;
const SLOTS = 10;
/** A budget no scenario exhausts: the limiters' admit path is what is measured. */
const HUGE = 1_000_000_000;

const one = async (): Promise<number> => 1;

/** ns per call of `run`, which makes `n` calls. */
async function nsPer(run: Run, n: number): Promise<number> {
  const start = process.hrtime.bigint();
  await run();
  return Number(process.hrtime.bigint() - start) / n;
}

/** `call` awaited `n` times in a row. */
const inRow =
  (call: Run, n: number): Run =>
  async () => {
    for (let i = 0; i < n; i++) await call();
  };

/** `n` calls in bursts of {@link BURST} started together, each burst awaited. */
const inBursts =
  (call: Run, n: number): Run =>
  async () => {
    const burst: Promise<unknown>[] = new Array<Promise<unknown>>(BURST);
    for (let i = 0; i < n; i += BURST) {
      for (let j = 0; j < BURST; j++) burst[j] = call();
      await Promise.all(burst);
    }
  };

/**
 * Median ns/call of each subject; the subjects take turns in every round so that drift of the
 * machine (frequency, other load) spreads over all of them alike.
 */
async function measure(
  calls: number,
  shape: (call: Run, n: number) => Run,
  subjects: Record<string, Run>,
): Promise<Record<string, number>> {
  const samples: Record<string, number[]> = {};
  for (const [name, call] of Object.entries(subjects)) {
    await nsPer(shape(call, calls / 4), calls / 4); // warm-up: let the JIT settle on this path
    samples[name] = [];
  }
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, call] of Object.entries(subjects)) {
      samples[name]!.push(await nsPer(shape(call, calls), calls));
    }
  }
  return Object.fromEntries(Object.entries(samples).map(([name, s]) => [name, median(s)]));
}

async function bulkheads() {
  const ours = bulkhead({ maxConcurrent: SLOTS, maxQueue: BURST });
  const theirs = cockatielBulkhead(SLOTS, BURST);
  const limit = pLimit(SLOTS);
  const subjects: Record<string, Run> = {
    bare: one,
    bulwark: () => ours.execute(one),
    cockatiel: () => theirs.execute(one),
    'p-limit': () => limit(one),
  };
  return {
    alone: await measure(CALLS, inRow, subjects),
    queued: await measure(CALLS, inBursts, subjects),
  };
}

async function wraps() {
  const breaker = createBreaker('bench-wrap');
  const ours = wrap(
    retry({ maxAttempts: 3, backoff: exponential({ initialMs: 100, maxMs: 10_000 }) }),
    breaker,
    timeout(10_000),
  );
  const theirs = cockatielWrap(
    cockatielRetry(handleAll, { maxAttempts: 2, backoff: new ExponentialBackoff({ initialDelay: 100 }) }),
    circuitBreaker(handleAll, { halfOpenAfter: 60_000, breaker: new ConsecutiveBreaker(5) }),
    cockatielTimeout(10_000, TimeoutStrategy.Cooperative),
  );
  const breakerFirst = createBreaker('bench-wrap-2', { failureThreshold: 5 });
  const oursConsecutive = wrap(retry({ maxAttempts: 3 }), breakerFirst, timeout(10_000));
  const result = await measure(CALLS, inRow, {
    bare: one,
    bulwark: () => ours.execute(one),
    'bulwark consecutive': () => oursConsecutive.execute(one),
    cockatiel: () => theirs.execute(one),
  });
  breaker.dispose();
  breakerFirst.dispose();
  return result;
}

async function limiters() {
  const refuse = rateLimiter({ limit: HUGE, intervalMs: 1_000 });
  const waits = rateLimiter({ limit: HUGE, intervalMs: 1_000, wait: true });
  const tokens = new TokenLimiter({ tokensPerInterval: HUGE, interval: 1_000 });
  const refused = new Error('rate limited');
  const subjects: Record<string, Run> = {
    bare: one,
    'bulwark refuse': () => refuse.execute(one),
    'bulwark wait': () => waits.execute(one),
    'limiter try': () => (tokens.tryRemoveTokens(1) ? one() : Promise.reject(refused)),
    'limiter wait': () => tokens.removeTokens(1).then(one),
  };
  return {
    alone: await measure(CALLS, inRow, subjects),
    queued: await measure(CALLS, inBursts, subjects),
  };
}

/** bottleneck waits on timers of its own inside every job (milliseconds each): far fewer calls. */
async function bottlenecks() {
  const waits = rateLimiter({ limit: HUGE, intervalMs: 1_000, wait: true });
  const bottleneck = new Bottleneck({
    reservoir: HUGE,
    reservoirRefreshAmount: HUGE,
    reservoirRefreshInterval: 1_000,
  });
  const subjects: Record<string, Run> = {
    bare: one,
    'bulwark wait': () => waits.execute(one),
    bottleneck: () => bottleneck.schedule(one),
  };
  const result = {
    alone: await measure(BOTTLENECK_CALLS, inRow, subjects),
    queued: await measure(BOTTLENECK_CALLS * 10, inBursts, subjects),
  };
  await bottleneck.stop({ dropWaitingJobs: true });
  await bottleneck.disconnect();
  return result;
}

const ns = (n: number) => `${n.toFixed(0)} ns`;
const ratio = (a: number, b: number) => (a / b).toFixed(2);

type Pair = { alone: Record<string, number>; queued: Record<string, number> };

function rows(b: Pair, w: Record<string, number>, l: Pair, bn: Pair): string[][] {
  const over = (r: Record<string, number>, k: string) => r[k]! - r.bare!;
  const row = (label: string, r: Record<string, number>, ours: string, peer: string, theirs: string) => [
    label,
    ns(over(r, ours)),
    peer,
    ns(over(r, theirs)),
    ratio(over(r, ours), over(r, theirs)),
  ];
  const burst = `bursts of ${BURST}`;
  return [
    row('bulkhead, one call at a time', b.alone, 'bulwark', 'cockatiel', 'cockatiel'),
    row('bulkhead, one call at a time', b.alone, 'bulwark', 'p-limit', 'p-limit'),
    row(`bulkhead, ${burst} on ${SLOTS} slots`, b.queued, 'bulwark', 'cockatiel', 'cockatiel'),
    row(`bulkhead, ${burst} on ${SLOTS} slots`, b.queued, 'bulwark', 'p-limit', 'p-limit'),
    row('wrap(retry, breaker, timeout)', w, 'bulwark', 'cockatiel', 'cockatiel'),
    row('wrap(retry, consecutive breaker, timeout)', w, 'bulwark consecutive', 'cockatiel', 'cockatiel'),
    row(
      'rate limiter refusing, one call at a time',
      l.alone,
      'bulwark refuse',
      'limiter (tryRemoveTokens)',
      'limiter try',
    ),
    row(
      'rate limiter waiting, one call at a time',
      l.alone,
      'bulwark wait',
      'limiter (removeTokens)',
      'limiter wait',
    ),
    row(
      `rate limiter refusing, ${burst}`,
      l.queued,
      'bulwark refuse',
      'limiter (tryRemoveTokens)',
      'limiter try',
    ),
    row(`rate limiter waiting, ${burst}`, l.queued, 'bulwark wait', 'limiter (removeTokens)', 'limiter wait'),
    row(
      'rate limiter waiting, one call at a time',
      bn.alone,
      'bulwark wait',
      'bottleneck (schedule)',
      'bottleneck',
    ),
    row(`rate limiter waiting, ${burst}`, bn.queued, 'bulwark wait', 'bottleneck (schedule)', 'bottleneck'),
  ];
}

/** Runs every policy measurement and returns BENCHMARKS.md's section. */
export async function runPolicyBench(): Promise<BenchSection> {
  const b = await bulkheads();
  const w = await wraps();
  const l = await limiters();
  const bn = await bottlenecks();
  const table = markdownTable(
    ['measure: ns/call over a bare call', 'bulwark', 'peer', 'peer ns/call', 'bulwark / peer'],
    rows(b, w, l, bn),
  );
  return {
    title: 'Policies: bulwark vs cockatiel, p-limit, limiter and bottleneck',
    table,
    notes: [
      `Medians of ${ROUNDS} rounds of ${CALLS.toLocaleString('en-US')} calls of \`async () => 1\`, subjects ` +
        `interleaved in each round; a bare call took ${ns(b.alone.bare!)} in a row, ${ns(b.queued.bare!)} in bursts.`,
      `Bulkhead: bulwark \`bulkhead({ maxConcurrent: ${SLOTS}, maxQueue: ${BURST} })\`, cockatiel ` +
        `\`bulkhead(${SLOTS}, ${BURST})\`, p-limit \`pLimit(${SLOTS})\` (an unbounded queue, no refusal). "One call at a ` +
        `time": each call awaited before the next (a slot is always free); "bursts": ${BURST} calls started together ` +
        `and awaited, so ${BURST - SLOTS} of them queue for a slot.`,
      'wrap: bulwark `wrap(retry({ maxAttempts: 3, backoff: exponential() }), createBreaker(name), timeout(10_000))` ' +
        '(default count window of 100 calls; "consecutive": `failureThreshold: 5`) against cockatiel ' +
        '`wrap(retry(handleAll, { maxAttempts: 2, backoff: ExponentialBackoff }), circuitBreaker(handleAll, ' +
        '{ breaker: ConsecutiveBreaker(5) }), timeout(10_000, Cooperative))`; cockatiel counts retries after the first ' +
        'try, so both make at most 3 tries. Each timeout makes an AbortController and a timer per call; the calls succeed.',
      `Rate limiters, all with a budget of ${HUGE.toLocaleString('en-US')} per second that no run exhausts (the admit ` +
        'path): bulwark `rateLimiter({ limit, intervalMs: 1_000 })` refusing, or `{ wait: true }`; limiter ' +
        '`RateLimiter({ tokensPerInterval, interval: 1_000 })` with `tryRemoveTokens(1)` before the call (refusing) or ' +
        '`await removeTokens(1)` (waiting); bottleneck `new Bottleneck({ reservoir, reservoirRefreshAmount, ' +
        'reservoirRefreshInterval: 1_000 })` and `schedule(fn)`, which always queues: compared with the waiting ' +
        `mode, over ${BOTTLENECK_CALLS} calls in a row and ${BOTTLENECK_CALLS * 10} in bursts per round (each bottleneck ` +
        'job waits on a few timers of its own, milliseconds in a row).',
    ],
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const section = await runPolicyBench();
  console.log(`## ${section.title}\n\n${section.table}\n\n${section.notes.map((n) => `- ${n}`).join('\n')}`);
}
