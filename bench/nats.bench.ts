// NATS section of `npm run bench`: raw nats.js and bulwark side by side, one run, one private server.
import { performance } from 'node:perf_hooks';
import { AckPolicy, jetstream, jetstreamManager, type JetStreamClient } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { pino } from 'pino';
import { uuidv7 } from '../src/events/ids.js';
import { createRuntime } from '../src/runtime/create-runtime.js';
import { natsTransport } from '../src/transport/nats/nats-transport.js';
import { startNatsServer } from '../test/setup/nats-server.js';
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

const logger = pino({ level: 'silent' });

async function rawPublish(js: JetStreamClient, subject: string): Promise<number> {
  return pipelined(N, WINDOW, (i) => {
    const { id, body } = rawEvent(i);
    return js.publish(subject, body, { msgID: id });
  });
}

/** Keeps decoded events reachable so the decoding is not optimised away. */
let sink: unknown;

/** Raw durable consumer with explicit acks over `count` stored messages; returns msg/s. */
async function rawConsume(
  nc: NatsConnection,
  stream: string,
  subject: string,
  count: number,
): Promise<number> {
  const jsm = await jetstreamManager(nc);
  const name = `raw_${uuidv7().slice(-8)}`;
  await jsm.consumers.add(stream, {
    durable_name: name,
    ack_policy: AckPolicy.Explicit,
    filter_subject: subject,
  });
  const consumer = await jetstream(nc).consumers.get(stream, name);
  let start = 0;
  let got = 0;
  await new Promise<void>((resolve) => {
    void consumer.consume({
      max_messages: CONCURRENCY,
      callback: (m) => {
        if (got === 0) start = performance.now();
        // the same work as a subscriber: read the event, then ack it
        sink = m.json<{ data: unknown }>().data;
        m.ack();
        if (++got === count) resolve();
      },
    });
  });
  const rate = count / ((performance.now() - start) / 1000);
  await jsm.consumers.delete(stream, name);
  return rate;
}

/** Raw publish→handler latency: a consumer running while events are published in small batches. */
async function rawLatency(nc: NatsConnection, js: JetStreamClient, stream: string, subject: string) {
  const jsm = await jetstreamManager(nc);
  const name = `rawlat_${uuidv7().slice(-8)}`;
  await jsm.consumers.add(stream, {
    durable_name: name,
    ack_policy: AckPolicy.Explicit,
    filter_subject: subject,
    deliver_policy: 'new',
  });
  const consumer = await jetstream(nc).consumers.get(stream, name);
  const lat: number[] = [];
  const done = new Promise<void>((resolve) => {
    void consumer.consume({
      max_messages: CONCURRENCY,
      callback: (m) => {
        lat.push(performance.now() - m.json<{ data: { t: number } }>().data.t);
        m.ack();
        if (lat.length === LATENCY_N) resolve();
      },
    });
  });
  for (let i = 0; i < LATENCY_N; i += LATENCY_BATCH) {
    await Promise.all(
      Array.from({ length: LATENCY_BATCH }, (_, k) => {
        const { id, body } = rawEvent(i + k);
        return js.publish(subject, body, { msgID: id });
      }),
    );
  }
  await done;
  await jsm.consumers.delete(stream, name);
  return lat;
}

type Rt = Awaited<ReturnType<typeof createRuntime<typeof events.schemas>>>;

async function bulwarkPublish(rt: Rt): Promise<number> {
  return pipelined(N, WINDOW, (i) => rt.publish('bench.event', { n: i, t: performance.now() }));
}

async function bulwarkConsume(rt: Rt, group: string, count: number): Promise<number> {
  let start = 0;
  let got = 0;
  let resolve!: () => void;
  const done = new Promise<void>((r) => (resolve = r));
  const sub = rt.subscribe(
    'bench.event',
    () => {
      if (got === 0) start = performance.now();
      if (++got === count) resolve();
    },
    { group, concurrency: CONCURRENCY },
  );
  await done;
  const rate = count / ((performance.now() - start) / 1000);
  await sub.stop();
  return rate;
}

async function bulwarkLatency(rt: Rt, group: string): Promise<number[]> {
  const lat: number[] = [];
  let resolve!: () => void;
  const done = new Promise<void>((r) => (resolve = r));
  const sub = rt.subscribe(
    'bench.event',
    (p) => {
      lat.push(performance.now() - p.t);
      if (lat.length === LATENCY_N) resolve();
    },
    { group, concurrency: CONCURRENCY, from: 'new' },
  );
  await sub.ready;
  for (let i = 0; i < LATENCY_N; i += LATENCY_BATCH) {
    await rt.publishMany(
      Array.from({ length: LATENCY_BATCH }, (_, k) => ({
        type: 'bench.event' as const,
        payload: { n: i + k, t: performance.now() },
      })),
    );
  }
  await done;
  await sub.stop();
  return lat;
}

/** Measures raw nats.js and bulwark on one private nats-server. */
export async function runNatsBench(): Promise<BenchSection> {
  const server = await startNatsServer();
  const prefix = 'bench';
  const rt = await createRuntime({
    service: 'bench',
    events,
    transport: natsTransport({ servers: server.url, prefix }),
    logger,
  });
  const nc = await connect({ servers: server.url });
  try {
    const js = jetstream(nc);
    const stream = 'BENCH_EVENTS';
    const rawSubject = `${prefix}.events.raw.event`;
    const rawPub = await rawPublish(js, rawSubject);
    const bwPub = await bulwarkPublish(rt);
    const rawRounds: number[] = [];
    const bwRounds: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      rawRounds.push(await rawConsume(nc, stream, rawSubject, N));
      bwRounds.push(await bulwarkConsume(rt, `throughput${r}`, N));
    }
    const rawLats: number[][] = [];
    const bwLats: number[][] = [];
    for (let r = 0; r < ROUNDS; r++) {
      rawLats.push(await rawLatency(nc, js, stream, rawSubject));
      bwLats.push(await bulwarkLatency(rt, `latency${r}`));
    }
    void sink;
    return {
      title: 'NATS JetStream: bulwark vs raw nats.js (same server, same run)',
      table: jetstreamTable({ rawPub, bwPub, rawCon: rawRounds, bwCon: bwRounds, rawLats, bwLats }),
      notes: [`nats-server 2.9.10 on loopback, file storage.`, ...SHARED_NOTES],
    };
  } finally {
    await nc.close();
    await rt.shutdown();
    await server.dispose();
  }
}
