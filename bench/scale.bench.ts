// Scale: a runtime with 100,000 circuit breakers. What one /metrics scrape and one health report
// block the event loop for, without and with an inspector attached, in one run.
import { pino } from 'pino';
import { createRuntime, defineEvents, type Runtime } from '../src/index.js';
import { markdownTable, median } from './stats.js';
import type { BenchSection } from './types.js';

const BREAKERS = 100_000;
/** Breakers opened before measuring: a scrape and a report cost what changed. */
const OPENED = 100;
const ROUNDS = 5;

/**
 * The longest the event loop was blocked while `work` ran: the largest gap between turns of a
 * `setImmediate` ticker that runs alongside it.
 */
async function blockedMs(work: () => Promise<unknown>): Promise<number> {
  let worst = 0;
  let last = performance.now();
  let running = true;
  const tick = (): void => {
    const now = performance.now();
    worst = Math.max(worst, now - last);
    last = now;
    if (running) setImmediate(tick);
  };
  setImmediate(tick);
  const t = performance.now();
  await work();
  running = false;
  worst = Math.max(worst, performance.now() - last);
  await new Promise((r) => setImmediate(r));
  return Math.min(worst, performance.now() - t);
}

async function runtimeWithBreakers(inspect: boolean): Promise<{ rt: Runtime; buildS: number }> {
  const rt = await createRuntime({
    service: 'scale',
    events: defineEvents({}),
    logger: pino({ level: 'silent' }),
    handleSignals: false,
    ...(inspect && { inspect: () => undefined }),
  });
  const t = performance.now();
  for (let i = 0; i < BREAKERS; i++) rt.breaker(`b${i}`, { failureThreshold: 1 });
  for (let i = 0; i < OPENED; i++)
    await rt
      .breaker(`b${i}`)
      .execute(() => Promise.reject(new Error('down')))
      .catch(() => undefined);
  return { rt, buildS: (performance.now() - t) / 1000 };
}

interface Figures {
  scrape: number;
  report: number;
  body: number;
  buildS: number;
  heapMb: number;
}

async function measure(inspect: boolean): Promise<Figures> {
  global.gc?.();
  const heapBefore = process.memoryUsage().heapUsed;
  const { rt, buildS } = await runtimeWithBreakers(inspect);
  const heapMb = (process.memoryUsage().heapUsed - heapBefore) / 2 ** 20;
  try {
    const scrape: number[] = [];
    const report: number[] = [];
    let body = 0;
    for (let r = 0; r < ROUNDS; r++) {
      scrape.push(await blockedMs(() => rt.metrics.registry.metrics()));
      report.push(await blockedMs(async () => (body = JSON.stringify(await rt.health.report()).length)));
    }
    return { scrape: median(scrape), report: median(report), body, buildS, heapMb };
  } finally {
    await rt.shutdown();
  }
}

/** Runs the section: 100,000 breakers, one runtime without and one with an inspector. */
export async function runScaleBench(): Promise<BenchSection> {
  const plain = await measure(false);
  const inspected = await measure(true);
  const row = (name: string, f: Figures) => [
    name,
    `${f.scrape.toFixed(1)} ms`,
    `${f.report.toFixed(1)} ms`,
    `${(f.body / 1024).toFixed(1)} KB`,
    `${f.buildS.toFixed(1)} s`,
    `${Math.round(f.heapMb)} MB`,
  ];
  return {
    title: `Scale: ${BREAKERS.toLocaleString('en-US')} circuit breakers in one runtime`,
    table: markdownTable(
      [
        '',
        '/metrics scrape: loop blocked',
        'health report: loop blocked',
        '/health body',
        'creating them',
        'heap',
      ],
      [row('no inspector', plain), row('inspector attached (no-op `inspect`)', inspected)],
    ),
    notes: [
      `${BREAKERS.toLocaleString('en-US')} breakers made with \`rt.breaker\`, ${OPENED} of them opened; medians of ${ROUNDS} scrapes (\`rt.metrics.registry.metrics()\`) and ${ROUNDS} health reports (\`rt.health.report()\` then \`JSON.stringify\`, what \`/health\` serves). "Loop blocked" is the longest gap between turns of a \`setImmediate\` ticker running alongside.`,
      'Goal: each < 50 ms. A breaker gets its own `bulwark_breaker_state` series once it first leaves CLOSED (`bulwark_breakers{state}` counts them all), and a report lists every actor up to 1,000 and beyond that the ones that are not HEALTHY: both cost what changed, not what exists.',
      'With an inspector every breaker runs its actor from the start (so that the inspector sees it), which is what the heap and creation columns show.',
    ],
  };
}
