// Rows of the queue-features section: a rate-limited queue, and 100 ordered groups. BullMQ 6 on the
// local Redis vs bulwark on JetStream and in memory; workers run at concurrency 10, the clock stops
// when the last job completed.
import { randomBytes } from 'node:crypto';
import { Queue as BullQueue, Worker as BullWorker } from 'bullmq';
import type { Runtime } from '../src/index.js';
import type { FeatureRow } from './queue-features.bench.js';

const connection = { host: '127.0.0.1', port: 6379, maxRetriesPerRequest: null };
const uid = (): string => randomBytes(4).toString('hex');
const CONCURRENCY = 10;

/** The limit: 1,000 starts per second across the workers. */
const LIMIT = { max: 1_000, durationMs: 1_000 };
const LIMITED_N = 3_000;

const GROUPS = 100;
const PER_GROUP = 20;

/** Resolves with jobs per second once `n` jobs completed; `start` adds the jobs and starts the worker. */
async function timed(n: number, start: (tick: () => void) => Promise<() => Promise<void>>): Promise<number> {
  let seen = 0;
  let finish!: () => void;
  const finished = new Promise<void>((r) => (finish = r));
  const t = performance.now();
  const stop = await start(() => void (++seen === n && finish()));
  await finished;
  const rate = n / ((performance.now() - t) / 1000);
  await stop();
  return rate;
}

function bullLimited(): Promise<number> {
  const name = `bl-${uid()}`;
  const q = new BullQueue(name, { connection });
  return timed(LIMITED_N, async (tick) => {
    const w = new BullWorker(name, async () => tick(), {
      connection,
      concurrency: CONCURRENCY,
      limiter: { max: LIMIT.max, duration: LIMIT.durationMs },
    });
    for (let i = 0; i < LIMITED_N; i += 1_000)
      await q.addBulk(Array.from({ length: 1_000 }, (_, j) => ({ name: 'j', data: { i: i + j } })));
    return async () => {
      await w.close();
      await q.obliterate({ force: true });
      await q.close();
    };
  });
}

function bulwarkLimited(rt: Runtime): Promise<number> {
  const q = rt.queue(`bl-${uid()}`, { concurrency: CONCURRENCY, limiter: LIMIT });
  return timed(LIMITED_N, async (tick) => {
    q.process(() => tick());
    await q.ready();
    for (let i = 0; i < LIMITED_N; i += 1_000)
      await q.addBulk(Array.from({ length: 1_000 }, (_, j) => ({ name: 'j', data: { i: i + j } })));
    return () => q.close();
  });
}

/** BullMQ's open-source edition has no ordered groups: the same jobs, ungrouped. */
function bullPlain(): Promise<number> {
  const name = `bg-${uid()}`;
  const q = new BullQueue(name, { connection });
  const n = GROUPS * PER_GROUP;
  return timed(n, async (tick) => {
    const w = new BullWorker(name, async () => tick(), { connection, concurrency: CONCURRENCY });
    await q.addBulk(Array.from({ length: n }, (_, i) => ({ name: 'j', data: { i } })));
    return async () => {
      await w.close();
      await q.obliterate({ force: true });
      await q.close();
    };
  });
}

function bulwarkGroups(rt: Runtime): Promise<number> {
  const q = rt.queue(`bg-${uid()}`, { concurrency: CONCURRENCY });
  const n = GROUPS * PER_GROUP;
  return timed(n, async (tick) => {
    q.process(() => tick());
    await q.ready();
    const jobs = Array.from({ length: n }, (_, i) => ({
      name: 'j',
      data: { i },
      opts: { group: `g${i % GROUPS}` },
    }));
    await q.addBulk(jobs);
    return () => q.close();
  });
}

/** A rate-limited queue: how close each gets to the limit. */
export const limitedRow: FeatureRow = {
  feature: `limiter: ${LIMIT.max} per ${LIMIT.durationMs} ms`,
  unit: 'jobs',
  async measure({ nats, memory }) {
    return {
      bull: await bullLimited(),
      nats: await bulwarkLimited(nats),
      memory: await bulwarkLimited(memory),
      note: `Limiter: ${LIMITED_N} jobs, one worker at concurrency ${CONCURRENCY}, limit ${LIMIT.max} per ${LIMIT.durationMs} ms (BullMQ \`limiter: { max, duration }\`, bulwark \`limiter: { max, durationMs }\`, a start log in the transport's key-value store shared by every worker). Jobs per second = ${LIMITED_N} / time to the last completion: with the limit kept in every sliding window the third window opens at 2 s, so about ${Math.round(LIMITED_N / 2.05)} jobs/s is the best a limiter that keeps it can show; more means some window held more than ${LIMIT.max} starts.`,
    };
  },
};

/** 100 ordered groups; BullMQ runs the same jobs ungrouped. */
export const groupsRow: FeatureRow = {
  feature: `${GROUPS} ordered groups x ${PER_GROUP}`,
  unit: 'jobs',
  async measure({ nats, memory }) {
    return {
      bull: await bullPlain(),
      nats: await bulwarkGroups(nats),
      memory: await bulwarkGroups(memory),
      note: `Ordered groups: ${GROUPS} groups x ${PER_GROUP} empty jobs, one worker at concurrency ${CONCURRENCY}. BullMQ's open-source edition has no ordered groups (groups are a BullMQ Pro feature), so its column runs the same ${GROUPS * PER_GROUP} jobs without groups: the ratio is the price of the ordering, not a like-for-like race. On JetStream each job of a group waits for the one before it to be stored as completed.`,
    };
  },
};
