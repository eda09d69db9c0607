// 100,000 jobs delayed an hour on a private nats-server (file storage): what they cost the server
// (RSS vs stored bytes), an idle worker's CPU while they wait, and the throughput of immediate jobs
// alongside them vs on a queue without them.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { pino } from 'pino';
import { createRuntime, defineEvents, type Runtime } from '../src/index.js';
import { natsTransport } from '../src/transport/nats/nats-transport.js';
import { Names } from '../src/transport/nats/toolkit/names.js';
import { startNatsServer } from '../test/setup/nats-server.js';
import { markdownTable, median } from './stats.js';
import type { BenchSection } from './types.js';

const DELAYED_N = 100_000;
const IMMEDIATE_N = 20_000;
const IDLE_MS = 10_000;
const ROUNDS = 5;
const CHUNK = 5_000;
const PREFIX = 'dbench';
const silent = pino({ level: 'silent' });
const step = (what: string) => console.error(`  ${new Date().toISOString().slice(11, 19)} ${what}`);
const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MB`;

/** The pid of the nats-server listening on `port`, from /proc. */
function serverPid(port: number): number {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const args = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (args[0]?.endsWith('nats-server') && args.includes(String(port))) return Number(entry);
    } catch {
      // gone meanwhile
    }
  }
  throw new Error(`no nats-server on port ${port}`);
}

/** CPU time (user + system) the process has used, in ms: /proc/<pid>/stat, in clock ticks of 10 ms. */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

function rssBytes(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+) kB/);
  return Number(line?.[1] ?? 0) * 1024;
}

async function addInChunks(rt: Runtime, queue: string, n: number, delayMs?: number): Promise<void> {
  const q = rt.queue(queue);
  for (let i = 0; i < n; i += CHUNK) {
    const size = Math.min(CHUNK, n - i);
    await q.addBulk(
      Array.from({ length: size }, (_, k) => ({ name: 'j', data: { i: i + k }, opts: { delayMs } })),
    );
  }
}

/** How long an idle process settles before its window: start-up work is not idling. */
const SETTLE_MS = 2_000;

/**
 * A process of its own (`bench/idle-process.ts`): a queue worker, or a bare connection.
 * `started` resolves as its window opens; `cpuMs` with its CPU over the window.
 */
function idleProcess(url: string, mode: 'worker' | 'bare', queue: string) {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'bench/idle-process.ts',
      url,
      PREFIX,
      mode,
      queue,
      String(IDLE_MS),
      String(SETTLE_MS),
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let opened!: () => void;
  const started = new Promise<void>((resolve) => (opened = resolve));
  const cpuMs = new Promise<number>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout });
    lines.on('line', (line) => {
      if (line === 'start') opened();
      else if (line.startsWith('cpu ')) resolve(Number(line.slice(4)));
    });
    child.on('exit', (code) => reject(new Error(`idle ${mode} process exited (${code}) before reporting`)));
  });
  // Bounded: a child that never reports fails the section instead of hanging it.
  const timer = setTimeout(() => child.kill('SIGKILL'), IDLE_MS + SETTLE_MS + 60_000);
  void cpuMs.finally(() => clearTimeout(timer)).catch(() => undefined);
  return { started, cpuMs };
}

/** Adds `n` immediate jobs, then times a worker (concurrency 10) taking all of them. @returns jobs/s */
async function throughput(url: string, queue: string, n: number): Promise<number> {
  const rt = await runtimeOn(url, `tp-${queue}`);
  try {
    await addInChunks(rt, queue, n);
    const q = rt.queue(queue, { concurrency: 10 });
    let done = 0;
    let finish!: () => void;
    const finished = new Promise<void>((resolve) => (finish = resolve));
    const t = performance.now();
    q.process(() => void (++done === n && finish()));
    await finished;
    return n / ((performance.now() - t) / 1_000);
  } finally {
    await rt.shutdown();
  }
}

async function countsOf(url: string, queue: string) {
  const rt = await runtimeOn(url, 'counter');
  try {
    return await rt.queue(queue).counts();
  } finally {
    await rt.shutdown();
  }
}

function runtimeOn(
  url: string,
  service: string,
  transport = natsTransport({ servers: url, prefix: PREFIX }),
) {
  return createRuntime({ service, events: defineEvents({}), logger: silent, transport });
}

const STORE_OPTIONS = { ackWaitMs: 30_000, dedupWindowMs: 86_400_000, keepFinished: 10_000 };
const SWEEPS = 5;

/**
 * nats-server CPU of finished-job sweeps of a queue that finished `IMMEDIATE_N * ROUNDS` jobs: the
 * first sweep (which removes what is over `keepFinished`), then a steady-state sweep as every
 * process sent it before (each purge asked again), and as now (purges that cannot remove anything
 * are not sent). @returns ms of server CPU per sweep
 */
async function sweepCosts(url: string, pid: number, queue: string) {
  const transport = natsTransport({ servers: url, prefix: PREFIX });
  const rt = await runtimeOn(url, 'sweeper', transport);
  const open = async () => (await transport.queueStore(queue, STORE_OPTIONS)) as unknown as Sweepable;
  const timed = async (sweep: () => Promise<number>) => {
    const before = cpuMs(pid);
    await sweep();
    return cpuMs(pid) - before;
  };
  try {
    const kept = await open();
    const first = await timed(() => kept.sweep());
    let asBefore = 0;
    let now = 0;
    for (let i = 0; i < SWEEPS; i++) {
      const fresh = await open();
      asBefore += await timed(() => fresh.sweep());
      await fresh.close();
      now += await timed(() => kept.sweep());
    }
    await kept.close();
    return { first, asBefore: asBefore / SWEEPS, now: now / SWEEPS };
  } finally {
    await rt.shutdown();
  }
}

interface Sweepable {
  sweep(): Promise<number>;
  close(): Promise<void>;
}

async function storedBytes(url: string, queue: string): Promise<number> {
  const nc = await connect({ servers: url });
  try {
    const jsm = await jetstreamManager(nc);
    const stream = new Names(PREFIX).queue(queue).stream;
    let bytes = 0;
    for (const name of [stream, `${stream}~due`, `${stream}~parked`])
      bytes += (await jsm.streams.info(name)).state.bytes;
    return bytes;
  } finally {
    await nc.close();
  }
}

export async function runDelayedJobsBench(): Promise<BenchSection> {
  const server = await startNatsServer();
  try {
    const pid = serverPid(server.port);
    const rssBefore = rssBytes(pid);
    const adder = await runtimeOn(server.url, 'adder');
    const t = performance.now();
    await addInChunks(adder, 'parked', DELAYED_N, 3_600_000);
    step('added the delayed jobs');
    const addRate = DELAYED_N / ((performance.now() - t) / 1_000);
    await adder.shutdown();
    const stored = await storedBytes(server.url, 'parked');
    const rssAdded = rssBytes(pid);
    // A worker process on the queue of parked jobs, which must cost nothing while they wait, beside
    // a process that only holds a connection; both windows run together. A process of its own, since
    // this one still carries the garbage of adding 100,000 jobs.
    const worker = idleProcess(server.url, 'worker', 'parked');
    const bare = idleProcess(server.url, 'bare', 'parked');
    await Promise.all([worker.started, bare.started]);
    const serverCpu0 = cpuMs(pid);
    const [idleCpuMs, bareCpuMs] = await Promise.all([worker.cpuMs, bare.cpuMs]);
    const serverIdleMs = cpuMs(pid) - serverCpu0;
    const rssAfter = rssBytes(pid);
    const counts = await countsOf(server.url, 'parked');
    step('idle worker measured');
    const plain: number[] = [];
    const loaded: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      plain.push(await throughput(server.url, 'plain', IMMEDIATE_N));
      // The immediate jobs share the queue (its stream, its worker process) with the parked ones.
      loaded.push(await throughput(server.url, 'parked', IMMEDIATE_N));
      step(`throughput round ${round + 1}`);
    }
    const rssEnd = rssBytes(pid);
    const sweep = await sweepCosts(server.url, pid, 'plain');
    const ratio = median(loaded) / median(plain);
    const rows = [
      ['jobs delayed 1 h', DELAYED_N.toLocaleString('en'), `added at ${Math.round(addRate)} jobs/s`],
      [
        'stored bytes (queue, due and parked streams)',
        mb(stored),
        `${counts.delayed.toLocaleString('en')} counted delayed`,
      ],
      [
        'nats-server RSS: empty / jobs added / worker idle 12 s',
        `${mb(rssBefore)} / ${mb(rssAdded)} / ${mb(rssAfter)}`,
        `growth ${((rssAfter - rssBefore) / stored).toFixed(2)}x stored`,
      ],
      [
        'nats-server RSS / stored bytes',
        `${(rssAdded / stored).toFixed(2)}x added, ${(rssAfter / stored).toFixed(2)}x worker idle`,
        'goal: within 2x',
      ],
      ['nats-server RSS after the throughput rounds', mb(rssEnd), `${(rssEnd / stored).toFixed(2)}x stored`],
      [
        'idle worker process CPU over 10 s',
        `${idleCpuMs.toFixed(0)} ms`,
        `${((idleCpuMs / IDLE_MS) * 100).toFixed(2)}% of a core; ${(idleCpuMs / bareCpuMs).toFixed(2)}x a bare connection`,
      ],
      [
        'a process holding only a NATS connection, same 10 s',
        `${bareCpuMs.toFixed(0)} ms`,
        `${((bareCpuMs / IDLE_MS) * 100).toFixed(2)}% of a core`,
      ],
      [
        'nats-server CPU over the same 10 s',
        `${serverIdleMs} ms`,
        `${((serverIdleMs / IDLE_MS) * 100).toFixed(2)}% of a core`,
      ],
      [
        '20,000 immediate jobs, c=10, no parked jobs',
        `${Math.round(median(plain))} jobs/s`,
        `rounds: ${plain.map(Math.round).join(', ')}`,
      ],
      [
        'the same beside 100,000 parked jobs',
        `${Math.round(median(loaded))} jobs/s`,
        `rounds: ${loaded.map(Math.round).join(', ')}`,
      ],
      ['throughput ratio (with / without)', ratio.toFixed(3), 'goal: >= 0.95'],
      [
        'nats-server CPU of a sweep: first / steady, all purges sent / steady now',
        `${sweep.first} / ${sweep.asBefore} / ${sweep.now} ms`,
        `queue of ${(IMMEDIATE_N * ROUNDS).toLocaleString('en')} finished jobs, keepFinished 10,000; ${SWEEPS} sweeps each, 10 ms ticks`,
      ],
    ];
    return {
      title: 'Delayed jobs: 100,000 parked by due time',
      table: markdownTable(['measure', 'value', 'note'], rows),
      notes: [
        "A delayed or backing-off job is a record on `<prefix>.qpark.<queue>.<kind>.<job>` in the queue's parked stream plus an entry on `<prefix>.qdue.<queue>.<dueSecond>` in its due stream; nothing of it is in the queue's stream, whose consumers therefore never walk it. A worker process reads a second when it begins and promotes each job at its due millisecond.",
        'RSS read from /proc/<pid>/status (VmRSS) of a private nats-server with file storage; idle CPU is a worker process of its own (concurrency 10, started 2 s before its 10 s window) while the 100,000 jobs wait, beside a Node process that only holds a NATS connection over the same window: what any connected process pays.',
        "When parked records shared the queue's stream, a worker's first pull and consumer infos walked all 100,000 of them (45 → 75 MB, 270 ms of server CPU) and every idle pull renewal 10-20 ms: RSS with an idle worker was 3.16x stored. The RSS after the throughput rounds also holds 120,000 finished jobs.",
        'A sweep is skipped when nothing was stored in the queue stream since the last one, and a purge by sequence is not sent again when it cannot remove anything; before, every process sent every purge every 30 s.',
      ],
    };
  } finally {
    await server.dispose();
  }
}
