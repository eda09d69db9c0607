// Cluster section of `npm run bench`: raw nats.js and bulwark side by side on a 3-node JetStream
// cluster with R3 streams, one run; the same measures as the single-server `nats` section.
import { performance } from 'node:perf_hooks';
import { AckPolicy, jetstream, jetstreamManager, type JetStreamClient } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { pino } from 'pino';
import { uuidv7 } from '../src/events/ids.js';
import { createRuntime, natsTransport, type Runtime } from '../src/index.js';
import { startCluster } from '../test/support/cluster.js';
import {
  CONCURRENCY,
  events,
  jetstreamTable,
  LATENCY_BATCH,
  LATENCY_N,
  N,
  pipelined,
  rawEvent,
  ROUNDS,
  SHARED_NOTES,
  WINDOW,
} from './jetstream-kit.js';
import type { BenchSection } from './types.js';

const PREFIX = 'benchc';
const STREAM = 'BENCHC_EVENTS';
const RAW_SUBJECT = `${PREFIX}.events.raw.event`;
type Rt = Runtime<typeof events.schemas>;

function rawPublish(js: JetStreamClient, i: number): Promise<unknown> {
  const { id, body } = rawEvent(i);
  return js.publish(RAW_SUBJECT, body, { msgID: id });
}

/** Keeps decoded events reachable so the decoding is not optimised away. */
let sink: unknown;

/**
 * A raw durable pull consumer (R3, as its stream) that parses each event and acks it; `onEvent`
 * sees each payload and returns true when the run is over.
 */
async function rawConsumer(
  nc: NatsConnection,
  from: 'all' | 'new',
  onEvent: (data: { t: number }) => boolean,
): Promise<{ done: Promise<void>; remove: () => Promise<void> }> {
  const jsm = await jetstreamManager(nc);
  const name = `raw_${uuidv7().slice(-8)}`;
  await jsm.consumers.add(STREAM, {
    durable_name: name,
    ack_policy: AckPolicy.Explicit,
    filter_subject: RAW_SUBJECT,
    deliver_policy: from === 'new' ? 'new' : 'all',
  });
  const consumer = await jetstream(nc).consumers.get(STREAM, name);
  const done = new Promise<void>((resolve) => {
    void consumer.consume({
      max_messages: CONCURRENCY,
      callback: (m) => {
        const data = m.json<{ data: { t: number } }>().data;
        sink = data;
        m.ack();
        if (onEvent(data)) resolve();
      },
    });
  });
  return { done, remove: async () => void (await jsm.consumers.delete(STREAM, name)) };
}

/** Counts `count` events from the first to the last; returns msg/s. */
function counter(count: number): { onEvent: () => boolean; rate: () => number } {
  let start = 0;
  let got = 0;
  return {
    onEvent: () => {
      if (got === 0) start = performance.now();
      return ++got === count;
    },
    rate: () => count / ((performance.now() - start) / 1000),
  };
}

async function rawConsume(nc: NatsConnection): Promise<number> {
  const c = counter(N);
  const run = await rawConsumer(nc, 'all', c.onEvent);
  await run.done;
  const rate = c.rate();
  await run.remove();
  return rate;
}

async function bulwarkConsume(rt: Rt, group: string): Promise<number> {
  const c = counter(N);
  let finished!: () => void;
  const done = new Promise<void>((r) => (finished = r));
  const sub = rt.subscribe('bench.event', () => void (c.onEvent() && finished()), {
    group,
    concurrency: CONCURRENCY,
  });
  await done;
  const rate = c.rate();
  await sub.stop();
  return rate;
}

/** Publishes LATENCY_N events in batches while a consumer runs; returns each publish→handler time. */
async function latency(
  start: (
    onEvent: (data: { t: number }) => boolean,
  ) => Promise<{ done: Promise<void>; stop: () => Promise<void> }>,
  publishBatch: (from: number) => Promise<unknown>,
): Promise<number[]> {
  const lat: number[] = [];
  const run = await start((data) => lat.push(performance.now() - data.t) === LATENCY_N);
  for (let i = 0; i < LATENCY_N; i += LATENCY_BATCH) await publishBatch(i);
  await run.done;
  await run.stop();
  return lat;
}

function rawLatency(nc: NatsConnection, js: JetStreamClient): Promise<number[]> {
  return latency(
    async (onEvent) => {
      const run = await rawConsumer(nc, 'new', onEvent);
      return { done: run.done, stop: run.remove };
    },
    (from) => Promise.all(Array.from({ length: LATENCY_BATCH }, (_, k) => rawPublish(js, from + k))),
  );
}

function bulwarkLatency(rt: Rt, group: string): Promise<number[]> {
  return latency(
    async (onEvent) => {
      let finished!: () => void;
      const done = new Promise<void>((r) => (finished = r));
      const sub = rt.subscribe('bench.event', (p) => void (onEvent(p) && finished()), {
        group,
        concurrency: CONCURRENCY,
        from: 'new',
      });
      await sub.ready;
      return { done, stop: () => sub.stop() };
    },
    (from) =>
      rt.publishMany(
        Array.from({ length: LATENCY_BATCH }, (_, k) => ({
          type: 'bench.event' as const,
          payload: { n: from + k, t: performance.now() },
        })),
      ),
  );
}

interface Results {
  rawPub: number;
  bwPub: number;
  rawCon: number[];
  bwCon: number[];
  rawLats: number[][];
  bwLats: number[][];
}

async function measure(nc: NatsConnection, rt: Rt): Promise<Results> {
  const js = jetstream(nc);
  const r: Results = { rawPub: 0, bwPub: 0, rawCon: [], bwCon: [], rawLats: [], bwLats: [] };
  r.rawPub = await pipelined(N, WINDOW, (i) => rawPublish(js, i));
  r.bwPub = await pipelined(N, WINDOW, (i) => rt.publish('bench.event', { n: i, t: performance.now() }));
  for (let round = 0; round < ROUNDS; round++) {
    r.rawCon.push(await rawConsume(nc));
    r.bwCon.push(await bulwarkConsume(rt, `throughput${round}`));
  }
  for (let round = 0; round < ROUNDS; round++) {
    r.rawLats.push(await rawLatency(nc, js));
    r.bwLats.push(await bulwarkLatency(rt, `latency${round}`));
  }
  void sink;
  return r;
}

/** Measures raw nats.js and bulwark on one private 3-node cluster, both connected to the same node. */
export async function runClusterBench(): Promise<BenchSection> {
  const cluster = await startCluster();
  let rt: Rt | undefined;
  let nc: NatsConnection | undefined;
  try {
    const entry = cluster.nodes[0]!;
    rt = await createRuntime({
      service: 'bench',
      events,
      transport: natsTransport({ servers: entry.url, prefix: PREFIX, replicas: 3 }),
      logger: pino({ level: 'silent' }),
      handleSignals: false,
    });
    nc = await connect({ servers: entry.url });
    await cluster.waitForReplicas(STREAM);
    const leader = await cluster.waitForLeader(STREAM);
    const figures = await measure(nc, rt);
    return {
      title: 'NATS JetStream cluster (3 nodes, R3): bulwark vs raw nats.js (same cluster, same run)',
      table: jetstreamTable(figures),
      notes: [
        `3 nats-server 2.9.10 processes on loopback (one machine, its cores shared with the benchmark), file storage; the events stream and every consumer replicated 3 times; bulwark with \`replicas: 3\`.`,
        `Both clients connected to the same node (${entry.name}); the stream leader was ${leader.name}${entry === leader ? ' (the same node)' : ' (a PubAck waits for a route round trip to it and its quorum)'}.`,
        ...SHARED_NOTES,
      ],
    };
  } finally {
    await nc?.close();
    await rt?.shutdown();
    await cluster.dispose();
  }
}
