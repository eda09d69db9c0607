// Job queue: BullMQ on the local Redis vs bulwark's queue on JetStream (file storage) and in memory,
// in one run. Redis at 127.0.0.1:6379; a private nats-server is started for the run.
import { randomBytes } from 'node:crypto';
import { Queue as BullQueue, Worker as BullWorker } from 'bullmq';
import { pino } from 'pino';
import { createRuntime, defineEvents, type Runtime } from '../src/index.js';
import { JobRunner } from '../src/queue/runner.js';
import type { JobLease } from '../src/queue/store.js';
import { systemClock } from '../src/time/clock.js';
import { fixed } from '../src/retry/backoff.js';
import { natsTransport } from '../src/transport/nats/nats-transport.js';
import { startNatsServer } from '../test/setup/nats-server.js';
import { markdownTable, median, ms, perSecond, quantile } from './stats.js';
import type { BenchSection } from './types.js';

const ADD_N = 50_000;
const PROCESS_N = 20_000;
/** Processing rounds per subject and concurrency; figures are medians. */
const ROUNDS = 3;
const LATENCY_N = 500;
const CONCURRENCY = [1, 10, 100] as const;
const silent = pino({ level: 'silent' });
const connection = { host: '127.0.0.1', port: 6379, maxRetriesPerRequest: null };
const uid = () => randomBytes(4).toString('hex');
const jobs = (n: number) => Array.from({ length: n }, (_, i) => ({ name: 'job', data: { i } }));
const sleep = (t: number) => new Promise((r) => setTimeout(r, t));

interface Figures {
  add: number;
  process: number[];
  p50: number;
  p99: number;
}

/** One system under test: add in bulk, then process with a worker, then latency at a low rate. */
interface Subject {
  addBulk(name: string, n: number): Promise<number>;
  process(name: string, n: number, concurrency: number): Promise<number>;
  latency(name: string, n: number): Promise<number[]>;
  close(): Promise<void>;
}

function bullmq(): Subject {
  const queues: BullQueue[] = [];
  const open = (name: string) => {
    const q = new BullQueue(name, { connection });
    queues.push(q);
    return q;
  };
  return {
    async addBulk(name, n) {
      const q = open(name);
      const t = performance.now();
      for (let i = 0; i < n; i += 5_000) await q.addBulk(jobs(Math.min(5_000, n - i)));
      return n / ((performance.now() - t) / 1000);
    },
    async process(name, n, concurrency) {
      const q = open(name);
      for (let i = 0; i < n; i += 5_000) await q.addBulk(jobs(Math.min(5_000, n - i)));
      let done = 0;
      let finish!: () => void;
      const finished = new Promise<void>((r) => (finish = r));
      const t = performance.now();
      const w = new BullWorker(name, async () => void (++done === n && finish()), {
        connection,
        concurrency,
      });
      await finished;
      const rate = n / ((performance.now() - t) / 1000);
      await w.close();
      return rate;
    },
    async latency(name, n) {
      const q = open(name);
      const out: number[] = [];
      const w = new BullWorker(name, async () => undefined, { connection, concurrency: 10 });
      w.on('completed', (job) => out.push(performance.now() - (job.data as { t: number }).t));
      await w.waitUntilReady();
      for (let i = 0; i < n; i++) {
        await q.add('job', { i, t: performance.now() });
        await sleep(2);
      }
      while (out.length < n) await sleep(10);
      await w.close();
      return out;
    },
    async close() {
      for (const q of queues) {
        await q.obliterate({ force: true });
        await q.close();
      }
    },
  };
}

function bulwark(rt: Runtime): Subject {
  return {
    async addBulk(name, n) {
      const q = rt.queue(name);
      await q.ready();
      const t = performance.now();
      for (let i = 0; i < n; i += 5_000) await q.addBulk(jobs(Math.min(5_000, n - i)));
      return n / ((performance.now() - t) / 1000);
    },
    async process(name, n, concurrency) {
      const q = rt.queue(name, { concurrency });
      for (let i = 0; i < n; i += 5_000) await q.addBulk(jobs(Math.min(5_000, n - i)));
      let done = 0;
      let finish!: () => void;
      const finished = new Promise<void>((r) => (finish = r));
      const t = performance.now();
      q.process(() => void (++done === n && finish()));
      await finished;
      const rate = n / ((performance.now() - t) / 1000);
      await q.close();
      return rate;
    },
    async latency(name, n) {
      const q = rt.queue(name, { concurrency: 10 });
      const out: number[] = [];
      q.on('completed', (job) => out.push(performance.now() - (job.data as { t: number }).t));
      q.process(() => undefined);
      await q.ready();
      for (let i = 0; i < n; i++) {
        await q.add('job', { i, t: performance.now() });
        await sleep(2);
      }
      while (out.length < n) await sleep(10);
      await q.close();
      return out;
    },
    close: () => rt.shutdown(),
  };
}

const HOSTING_N = 5_000;

/**
 * µs per job life (actor created, started, try run by the worker actor, completed, lease settled)
 * through the queue's own {@link JobRunner}, with a lease that only counts.
 */
async function hostingRound(inspect: ((e: unknown) => void) | undefined): Promise<number> {
  let done!: () => void;
  const runner = new JobRunner({
    queue: 'bench',
    handler: () => undefined,
    maxAttempts: 3,
    backoff: fixed({ delayMs: 100 }),
    timeoutMs: 0,
    clock: systemClock,
    logger: silent,
    inspect,
    observer: undefined,
    emit: () => undefined,
  });
  const lease = (id: string): JobLease => ({
    job: {
      id,
      name: 'job',
      data: null,
      priority: 'normal',
      attemptsMade: 0,
      maxAttempts: undefined,
      backoffMs: undefined,
    },
    complete: () => done(),
    retry: () => undefined,
    dead: () => undefined,
    release: () => undefined,
    cancel: () => undefined,
    note: () => undefined,
    working: () => undefined,
  });
  const t = performance.now();
  for (let i = 0; i < HOSTING_N; i++) {
    const settled = new Promise<void>((r) => (done = r));
    runner.take(lease(String(i)));
    await settled;
  }
  const us = ((performance.now() - t) * 1000) / HOSTING_N;
  runner.stop();
  return us;
}

/** Medians of five rounds after a warm-up, without and with an inspector attached. */
async function hostingCost(): Promise<string> {
  const plain: number[] = [];
  const inspected: number[] = [];
  const inspector = () => undefined;
  for (let round = 0; round < 6; round++) {
    const x = await hostingRound(undefined);
    const y = await hostingRound(inspector);
    if (round === 0) continue;
    plain.push(x);
    inspected.push(y);
  }
  return `Hosting one job's retry-job actor (create, start, one try through the worker actor, complete), medians of 5 × ${HOSTING_N}: ${median(plain).toFixed(1)} µs; with an inspector attached (a no-op \`inspect\` callback) ${median(inspected).toFixed(1)} µs.`;
}

/**
 * Measures every subject in the same conditions: processing rounds alternate between them (a
 * round of each at one concurrency, then the next round), and each figure is the median of
 * {@link ROUNDS}; the machine's two cores are shared with Redis or nats-server, whose share of them
 * moves from run to run.
 */
async function measureAll(subjects: readonly Subject[]): Promise<Figures[]> {
  const run = uid();
  try {
    const add: number[] = [];
    for (const [i, s] of subjects.entries()) add.push(await s.addBulk(`bench-add-${run}-${i}`, ADD_N));
    const rates = subjects.map(() => CONCURRENCY.map((): number[] => []));
    for (const [ci, c] of CONCURRENCY.entries())
      for (let r = 0; r < ROUNDS; r++)
        for (const [i, s] of subjects.entries())
          rates[i]![ci]!.push(await s.process(`bench-p${c}-${r}-${run}-${i}`, PROCESS_N, c));
    const out: Figures[] = [];
    for (const [i, s] of subjects.entries()) {
      const lat = await s.latency(`bench-lat-${run}-${i}`, LATENCY_N);
      out.push({
        add: add[i]!,
        process: rates[i]!.map((r) => median(r)),
        p50: quantile(lat, 0.5),
        p99: quantile(lat, 0.99),
      });
    }
    return out;
  } finally {
    for (const s of subjects) await s.close();
  }
}

/** Runs the section: BullMQ, bulwark on JetStream, bulwark in memory. */
export async function runQueueBench(): Promise<BenchSection> {
  const events = defineEvents({});
  const server = await startNatsServer();
  try {
    const transport = natsTransport({ servers: server.url, prefix: `qb${uid()}`, storage: 'file' });
    const [bull, nats, memory] = (await measureAll([
      bullmq(),
      bulwark(await createRuntime({ service: 'bench', events, transport, logger: silent })),
      bulwark(await createRuntime({ service: 'bench', events, logger: silent })),
    ])) as [Figures, Figures, Figures];
    const hosting = await hostingCost();
    const row = (name: string, f: Figures) => [
      name,
      perSecond(f.add),
      ...f.process.map(perSecond),
      ms(f.p50),
      ms(f.p99),
    ];
    const ratio = nats.process[1]! / bull.process[1]!;
    return {
      title: 'Job queue: bulwark vs BullMQ',
      table: markdownTable(
        ['', `addBulk ${ADD_N}`, 'process c=1', 'process c=10', 'process c=100', 'add→completed p50', 'p99'],
        [
          row('BullMQ (Redis)', bull),
          row('bulwark (JetStream, file)', nats),
          row('bulwark (memory)', memory),
        ],
      ),
      notes: [
        `Processing: ${PROCESS_N} jobs per concurrency, no-op handler, median of ${ROUNDS} rounds that alternate between the three; latency: ${LATENCY_N} single adds 2 ms apart, worker concurrency 10.`,
        `bulwark on JetStream / BullMQ processing at concurrency 10: ${ratio.toFixed(2)}x (goal 1.2x).`,
        'Each bulwark job is a started retry-job actor (`job:<queue>/<id>`) from pick-up to settle; BullMQ runs its jobs in plain code with the queue logic in Redis Lua scripts.',
        hosting,
      ],
    };
  } finally {
    await server.dispose();
  }
}
