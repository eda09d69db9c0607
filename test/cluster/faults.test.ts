import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startCluster, type Cluster, type ClusterNode } from '../support/cluster.js';
import { waitFor } from '../support/wait.js';
import { uniquePrefix } from '../transport/nats/helpers.js';
import {
  allSettled,
  backlog,
  clusterRuntime,
  eventsStream,
  groupConsumer,
  Outcomes,
  pollEvery,
  queueStream,
  SETTLE_MS,
  storedMessages,
  type ClusterRuntime,
} from './kit.js';

const PUBLISHES = 3_000;
const IN_FLIGHT = 100;
const JOBS = 1_000;
const PUBLISH_TIMEOUT_MS = 3_000;
/**
 * How long jobs may take to finish after the queue's leader is back: a job whose ack died with the
 * old leader comes back only after the queue's ack wait (30 s by default).
 */
const JOB_REDELIVERY_MS = 40_000;
/**
 * How late past `publishTimeoutMs` a publish may settle: its timer fires on an event loop shared
 * with 16 handlers and the cluster's I/O, on 2 cores with three nats-servers.
 */
const TIMER_SLACK_MS = 1_000;

/** The ids a subscriber group handled, and when each delivery arrived. */
function recorder(rt: ClusterRuntime) {
  const handled = new Set<string>();
  const at: number[] = [];
  /** When each event was first handled: a repeat (its ack lost with the leader) is not a new delivery. */
  const firstAt: number[] = [];
  const sub = rt.subscribe(
    'order.placed',
    (_payload, meta) => {
      const now = performance.now();
      at.push(now);
      if (!handled.has(meta.id)) firstAt.push(now);
      handled.add(meta.id);
    },
    { group: 'recorder', concurrency: 16 },
  );
  return { handled, at, firstAt, sub };
}

/** Publishes `count` events with `window` in flight, each tracked in `outcomes`; `settled` runs after each. */
async function publishMany(
  rt: ClusterRuntime,
  outcomes: Outcomes,
  count: number,
  window: number,
  settled: () => void = () => undefined,
) {
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let n = next++; n < count; n = next++) {
      await outcomes.track(n, rt.publish('order.placed', { n }));
      settled();
    }
  };
  await Promise.all(Array.from({ length: window }, worker));
}

/** The longest time between two consecutive deliveries. */
function longestPause(times: number[]): number {
  const sorted = [...times].sort((a, b) => a - b);
  return sorted.reduce((max, t, i) => (i === 0 ? 0 : Math.max(max, t - sorted[i - 1]!)), 0);
}

function missing(handled: Set<string>, resolved: Set<string>): string[] {
  return [...resolved].filter((id) => !handled.has(id));
}

describe('bulwark on a 3-node JetStream cluster (R3 streams)', () => {
  let cluster: Cluster;
  let rt: ClusterRuntime | undefined;

  beforeEach(async () => {
    cluster = await startCluster();
  });

  afterEach(async () => {
    await rt?.shutdown();
    rt = undefined;
    await cluster.dispose();
  });

  it('loses no acknowledged event when the stream leader is killed mid-stream', async () => {
    const prefix = uniquePrefix();
    rt = await clusterRuntime(cluster, prefix);
    const stream = eventsStream(prefix);
    const { handled, at, firstAt, sub } = recorder(rt);
    await sub.ready;
    await cluster.waitForReplicas(stream);

    const leader = await cluster.waitForLeader(stream);
    const consumerLeader = await cluster.consumerLeader(stream, groupConsumer(prefix, 'recorder'));
    const outcomes = new Outcomes();
    let killedAt = 0;
    let killing: Promise<void> | undefined;
    const publishing = publishMany(rt, outcomes, PUBLISHES, IN_FLIGHT, () => {
      if (killing || outcomes.resolvedIds.size < PUBLISHES / 3) return;
      killedAt = performance.now();
      killing = leader.kill();
    });
    await waitFor(() => killing !== undefined, { what: 'a third of the publishes to resolve' });
    const resolvedAtKill = outcomes.resolvedIds.size;
    await killing;
    const next = await cluster.waitForLeader(stream, { not: leader });
    const electedMs = performance.now() - killedAt;

    await allSettled(outcomes, publishing, SETTLE_MS);
    expect(outcomes.rejected.filter((o) => !(o.error instanceof Error))).toEqual([]);
    await leader.start();
    await cluster.waitForReplicas(stream);
    await pollEvery(
      () => backlog(cluster, stream, [groupConsumer(prefix, 'recorder')]),
      (left) => left === 0,
      `${stream}'s consumers to be done`,
    );

    const before = Math.max(...at.filter((t) => t <= killedAt));
    const after = Math.min(...at.filter((t) => t > killedAt));
    const pause = longestPause(at.filter((t) => t >= before));
    const firstPause = longestPause(firstAt.filter((t) => t >= before));
    const lastFirst = Math.max(...firstAt);
    console.log(
      `[faults a] stream leader ${leader.name} (consumer leader ${consumerLeader?.name}) killed with ` +
        `${resolvedAtKill} of ${PUBLISHES} publishes resolved; ${next.name} elected after ${electedMs.toFixed(0)} ms; ` +
        `resume gap ${(after - before).toFixed(0)} ms (last delivery before the kill → first after), ` +
        `longest pause between deliveries after it ${pause.toFixed(0)} ms, between first deliveries ` +
        `${firstPause.toFixed(0)} ms (last first delivery ${(lastFirst - killedAt).toFixed(0)} ms after the kill, ` +
        `${at.length - handled.size} repeats); ` +
        `publishes: ${outcomes.summary()}; handled ${handled.size}`,
    );
    expect(resolvedAtKill, 'publishes left when the leader died').toBeLessThan(PUBLISHES);
    expect(missing(handled, outcomes.resolvedIds)).toEqual([]);
    expect(handled.size).toBe(await storedMessages(cluster, stream));
  });

  it('completes every job when the queue stream leader is killed mid-run', async () => {
    const prefix = uniquePrefix();
    rt = await clusterRuntime(cluster, prefix);
    const q = rt.queue<number>('jobs', { concurrency: 10 });
    await q.ready();
    const stream = queueStream(prefix, 'jobs');
    await cluster.waitForReplicas(stream);
    const ids = (await Promise.all(Array.from({ length: JOBS }, (_, i) => q.add('job', i)))).map((a) => a.id);

    const leader = await cluster.waitForLeader(stream);
    let completed = 0;
    let killedAt = 0;
    let killing: Promise<void> | undefined;
    q.on('completed', () => {
      if (++completed < JOBS / 4 || killing) return;
      killedAt = performance.now();
      killing = leader.kill();
    });
    q.process(() => undefined);
    await waitFor(() => killing !== undefined, { what: 'a quarter of the jobs to complete' });
    const completedAtKill = completed;
    await killing;
    const next = await cluster.waitForLeader(stream, { not: leader });
    const electedMs = performance.now() - killedAt;
    await leader.start();

    const counts = await pollEvery(
      () => q.counts(),
      (c) => c.completed === JOBS && c.waiting + c.active + c.delayed === 0,
      `${JOBS} jobs completed and none left`,
      { timeoutMs: JOB_REDELIVERY_MS },
    );
    console.log(
      `[faults b] leader ${leader.name} killed with ${completedAtKill} of ${JOBS} jobs completed; ` +
        `${next.name} elected after ${electedMs.toFixed(0)} ms; all completed ` +
        `${(performance.now() - killedAt).toFixed(0)} ms after the kill; counts ${JSON.stringify(counts)}`,
    );
    expect(completedAtKill, 'jobs left to run when the leader died').toBeLessThan(JOBS);
    expect(counts).toMatchObject({ completed: JOBS, waiting: 0, active: 0, failed: 0, dead: 0 });
    const states: Record<string, number> = {};
    for (let i = 0; i < ids.length; i += 50) {
      for (const info of await Promise.all(ids.slice(i, i + 50).map((id) => q.getJob(id)))) {
        const state = info?.state ?? 'missing';
        states[state] = (states[state] ?? 0) + 1;
      }
    }
    expect(states).toEqual({ completed: JOBS });
  });

  it('reports quorum loss in health and bounds every publish; delivers every stored event after', async () => {
    const prefix = uniquePrefix();
    rt = await clusterRuntime(cluster, prefix, { publishTimeoutMs: PUBLISH_TIMEOUT_MS });
    const runtime = rt;
    const stream = eventsStream(prefix);
    const { handled, sub } = recorder(runtime);
    await sub.ready;
    await cluster.waitForReplicas(stream);
    const before = new Outcomes();
    await publishMany(runtime, before, 50, 10);

    const leader = await cluster.waitForLeader(stream);
    const lost = [leader, cluster.nodes.find((n) => n !== leader) as ClusterNode];
    const killedAt = performance.now();
    await Promise.all(lost.map((n) => n.kill()));

    const during = new Outcomes();
    const publishing = (async () => {
      // one publish every 100 ms for two publish timeouts: the outage as a steady trickle of work
      for (let n = 0; performance.now() - killedAt < 2 * PUBLISH_TIMEOUT_MS; n++) {
        void during.track(n, runtime.publish('order.placed', { n: 1_000 + n }));
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    const statuses: string[] = [];
    const notHealthy = await pollEvery(
      async () => (await runtime.health.report()).checks.transport?.status ?? 'missing',
      (s) => {
        statuses.push(s);
        return s !== 'HEALTHY' || performance.now() - killedAt > 5_000;
      },
      'the transport check',
      { everyMs: 100 },
    );
    const seenAfterMs = performance.now() - killedAt;
    await publishing;
    await waitUntilBound(during);

    const late = during.all.filter(
      (o) => (o.settledAt ?? Infinity) - o.startedAt > PUBLISH_TIMEOUT_MS + TIMER_SLACK_MS,
    );
    console.log(
      `[faults c] ${lost.map((n) => n.name).join(', ')} killed; transport check ${notHealthy} after ${seenAfterMs.toFixed(0)} ms ` +
        `(seen: ${[...new Set(statuses)].join(' → ')}); during the outage: ${during.summary()}; ${late.length} beyond the bound`,
    );
    expect.soft(notHealthy, 'transport check within 5 s of losing quorum').not.toBe('HEALTHY');
    const lateList = late.map((o) => `#${o.n}`).join(', ');
    expect.soft(late.length, `publishes not settled within publishTimeoutMs: ${lateList}`).toBe(0);

    await Promise.all(lost.map((n) => n.start()));
    await cluster.waitForReplicas(stream);
    await pollEvery(
      async () => (await runtime.health.report()).checks.transport?.status,
      (s) => s === 'HEALTHY',
      'the transport check to be HEALTHY again',
    );
    const resolved = new Set([...before.resolvedIds, ...during.resolvedIds]);
    await waitFor(() => missing(handled, resolved).length === 0, {
      what: `every resolved publish to be handled (${resolved.size} resolved)`,
      timeoutMs: SETTLE_MS,
    }).catch((err: Error) => {
      throw new Error(`${err.message}; missing ${missing(handled, resolved).length}`);
    });
  });
});

/** Resolves once every publish has settled or run out its bound (started + timeout + slack). */
async function waitUntilBound(outcomes: Outcomes): Promise<void> {
  const lastStart = Math.max(...outcomes.all.map((o) => o.startedAt));
  const deadline = lastStart + PUBLISH_TIMEOUT_MS + TIMER_SLACK_MS;
  await waitFor(() => outcomes.pending.length === 0 || performance.now() > deadline, {
    what: 'the outage publishes to settle or run out their bound',
    timeoutMs: PUBLISH_TIMEOUT_MS + TIMER_SLACK_MS + 1_000,
  });
}
