// Flows: 1 parent + 10 children per flow, BullMQ 6 FlowProducer on the local Redis vs bulwark's
// `addFlow` on JetStream and in memory. Workers run while the flows are added; the clock stops when
// the last parent completed.
import { randomBytes } from 'node:crypto';
import { FlowProducer, Queue as BullQueue, Worker as BullWorker } from 'bullmq';
import type { Runtime } from '../src/index.js';

const FLOWS = 400;
const CHILDREN = 10;
/** Flows added at once. */
const IN_FLIGHT = 50;
const CONCURRENCY = 10;
const connection = { host: '127.0.0.1', port: 6379, maxRetriesPerRequest: null };
const uid = () => randomBytes(4).toString('hex');

/** One flow round: resolves with flows per second. */
export type FlowSubject = (flows: number) => Promise<number>;

/** Adds `n` flows with `add`, at most {@link IN_FLIGHT} at once. */
async function addAll(n: number, add: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < n) await add(next++);
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, lane));
}

/** Resolves once `count()` reached `n` (called on every parent completion). */
function counter(n: number): { tick: () => void; done: Promise<void> } {
  let seen = 0;
  let finish!: () => void;
  const done = new Promise<void>((r) => (finish = r));
  return { tick: () => void (++seen === n && finish()), done };
}

/** BullMQ's FlowProducer, a worker per queue. */
export const bullFlows: FlowSubject = async (n) => {
  const run = uid();
  const [parents, kids] = [`bf-parents-${run}`, `bf-kids-${run}`];
  const producer = new FlowProducer({ connection });
  const parentsDone = counter(n);
  const kidWorker = new BullWorker(kids, async (job) => (job.data as { c: number }).c, {
    connection,
    concurrency: CONCURRENCY,
  });
  const parentWorker = new BullWorker(
    parents,
    async (job) => Object.keys(await job.getChildrenValues()).length,
    { connection, concurrency: CONCURRENCY },
  );
  parentWorker.on('completed', parentsDone.tick);
  await Promise.all([kidWorker.waitUntilReady(), parentWorker.waitUntilReady()]);
  const t = performance.now();
  await addAll(n, (i) =>
    producer.add({
      name: 'parent',
      queueName: parents,
      data: { i },
      children: Array.from({ length: CHILDREN }, (_, c) => ({
        name: 'child',
        queueName: kids,
        data: { i, c },
      })),
    }),
  );
  await parentsDone.done;
  const rate = n / ((performance.now() - t) / 1000);
  await Promise.all([kidWorker.close(), parentWorker.close(), producer.close()]);
  for (const name of [parents, kids]) {
    const q = new BullQueue(name, { connection });
    await q.obliterate({ force: true });
    await q.close();
  }
  return rate;
};

/** bulwark's `addFlow` on `rt`'s transport. */
export function bulwarkFlows(rt: Runtime): FlowSubject {
  return async (n) => {
    const run = uid();
    const parents = rt.queue(`wf-parents-${run}`, { concurrency: CONCURRENCY });
    const kids = rt.queue<{ c: number }>(`wf-kids-${run}`, { concurrency: CONCURRENCY });
    const parentsDone = counter(n);
    parents.on('completed', parentsDone.tick);
    kids.process((job) => job.data.c);
    parents.process(async (job) => Object.keys(await job.childrenResults()).length);
    await Promise.all([parents.ready(), kids.ready()]);
    const t = performance.now();
    await addAll(n, (i) =>
      parents.addFlow({
        name: 'parent',
        data: { i },
        children: Array.from({ length: CHILDREN }, (_, c) => ({
          queue: kids.name,
          name: 'child',
          data: { i, c },
        })),
      }),
    );
    await parentsDone.done;
    const rate = n / ((performance.now() - t) / 1000);
    await Promise.all([parents.close(), kids.close()]);
    return rate;
  };
}

/** The flow row's figures: flows per second of each subject, median of `rounds` alternating rounds. */
export async function measureFlows(subjects: readonly FlowSubject[], rounds = 3): Promise<number[][]> {
  const out = subjects.map((): number[] => []);
  for (let r = 0; r < rounds; r++) for (const [i, s] of subjects.entries()) out[i]!.push(await s(FLOWS));
  return out;
}

/** What the row's note says was measured. */
export const FLOW_SHAPE = `${FLOWS} flows of 1 parent + ${CHILDREN} children, added ${IN_FLIGHT} at a time while workers (concurrency ${CONCURRENCY} per queue) run; the parent reads its children's results`;
