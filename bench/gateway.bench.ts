// Gateway section of `npm run bench`: fan-out of events to 1,000 WebSocket clients on loopback,
// through the browser gateway of `rt.listen({ gateway })` against a hand-written `ws` broadcast loop
// fed by the same transport. The clients run in a child process (the machine's second core), the
// same fleet for both.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:http';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { pino } from 'pino';
import { WebSocketServer } from 'ws';
import { z } from 'zod';
import { defineEvents } from '../src/events/registry.js';
import { encodeEvent } from '../src/events/cloudevent.js';
import { createRuntime } from '../src/runtime/create-runtime.js';
import { memoryTransport } from '../src/transport/memory/memory-transport.js';
import { markdownTable, median, ms, perSecond, quantile } from './stats.js';
import type { BenchSection } from './types.js';
import type { FleetReport } from './gateway-fleet.js';

const logger = pino({ level: 'silent' });
const events = defineEvents({ 'bench.order.placed': z.object({ n: z.number(), t: z.number() }) });
type Rt = Awaited<ReturnType<typeof createRuntime<typeof events.schemas>>>;

const CLIENTS = 1_000;
const EVENTS = 1_000;
/** Events published but not yet at every client: the publisher waits beyond it (no unbounded queues). */
const WINDOW = 16;
const LATENCY_EVENTS = 200;
/** Clients whose messages are parsed for latency, spread over the connection order. */
const SAMPLED = 20;
const ROUNDS = 3;
const FLEET = fileURLToPath(new URL('./gateway-fleet.ts', import.meta.url));

/** 1,000 clients in a child process: the delivery count it reports, and arrival latencies of a sample. */
class Fleet {
  delivered = 0;
  private child: ChildProcess | undefined;
  private waiting: ((values: number[]) => void) | undefined;

  async connect(url: string, subscribe: string | undefined): Promise<void> {
    const args = ['--import', 'tsx', FLEET, url, subscribe ?? '', String(CLIENTS), String(SAMPLED)];
    const child = (this.child = spawn(process.execPath, args, {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    }));
    const ready = new Promise<void>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`the client fleet exited with ${code}`)));
      child.on('message', (r: FleetReport) => {
        if (r.kind === 'ready') resolve();
        else if (r.kind === 'delivered') this.delivered = r.count;
        else this.waiting?.(r.values);
      });
    });
    await ready;
  }

  /** @returns the latencies recorded since the last call, in ms */
  latencies(): Promise<number[]> {
    const got = new Promise<number[]>((resolve) => (this.waiting = resolve));
    this.child!.send('latencies');
    return got;
  }

  async close(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    child.removeAllListeners('exit');
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.send('close');
    await exited;
  }
}

async function until(done: () => boolean): Promise<void> {
  while (!done()) await new Promise((r) => setImmediate(r));
}

/** Publishes `n` events, at most `window` ahead of the slowest delivery; resolves once all are delivered. */
async function drive(rt: Rt, fleet: Fleet, n: number, window: number): Promise<number> {
  const base = fleet.delivered;
  const start = performance.now();
  for (let i = 0; i < n; i++) {
    await until(() => fleet.delivered - base >= CLIENTS * (i - window));
    await rt.publish('bench.order.placed', { n: i, t: performance.timeOrigin + performance.now() });
  }
  await until(() => fleet.delivered - base >= CLIENTS * n);
  return performance.now() - start;
}

interface Round {
  readonly rate: number;
  readonly p99: number;
  readonly p50: number;
}

/** Throughput with `WINDOW` events in flight, then latency one event at a time. */
async function measure(rt: Rt, fleet: Fleet): Promise<Round> {
  await drive(rt, fleet, 50, WINDOW); // warm-up
  const elapsed = await drive(rt, fleet, EVENTS, WINDOW);
  await fleet.latencies();
  await drive(rt, fleet, LATENCY_EVENTS, 1);
  const lat = await fleet.latencies();
  return { rate: EVENTS / (elapsed / 1000), p99: quantile(lat, 0.99), p50: median(lat) };
}

async function runtime(): Promise<Rt> {
  return createRuntime({
    service: 'bench',
    events,
    transport: memoryTransport(),
    logger,
    handleSignals: false,
  });
}

async function gatewayRound(): Promise<Round> {
  const rt = await runtime();
  const fleet = new Fleet();
  try {
    const server = await rt.listen({
      port: 0,
      gateway: { events: ['bench.order.*'], maxClients: CLIENTS, maxBufferedBytes: 8 * 1024 * 1024 },
    });
    await fleet.connect(`${server.url.replace('http', 'ws')}/events`, '{"subscribe":["bench.order.*"]}');
    return await measure(rt, fleet);
  } finally {
    await fleet.close();
    await rt.shutdown();
  }
}

/** The hand-written loop: a broadcast consumer of the same transport, one frame per event, sent to every socket. */
async function handWrittenRound(): Promise<Round> {
  const rt = await runtime();
  const http = createServer();
  const wss = new WebSocketServer({ server: http });
  const fleet = new Fleet();
  const consumer = rt.transport.consume(
    {
      type: 'bench.order.placed',
      group: 'loop',
      mode: 'broadcast',
      maxInFlight: 256,
      from: 'new',
      instanceId: 'loop',
    },
    {
      deliver: (d) => {
        d.ack();
        const event = d.event ? Buffer.from(encodeEvent(d.event)) : Buffer.from(d.body ?? '');
        const frame = Buffer.concat([Buffer.from(`{"seq":${d.seq},"event":`), event, Buffer.from('}')]);
        for (const ws of wss.clients) ws.send(frame, { binary: false });
      },
      failed: () => undefined,
    },
  );
  try {
    await consumer.ready;
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    await fleet.connect(`ws://127.0.0.1:${(http.address() as AddressInfo).port}`, undefined);
    return await measure(rt, fleet);
  } finally {
    await fleet.close();
    await consumer.stop();
    await new Promise((resolve) => wss.close(() => http.close(resolve)));
    await rt.shutdown();
  }
}

/** Runs the gateway section. */
export async function runGatewayBench(): Promise<BenchSection> {
  const gateway: Round[] = [];
  const loop: Round[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    loop.push(await handWrittenRound());
    gateway.push(await gatewayRound());
  }
  const pick = (rounds: Round[], k: keyof Round) => median(rounds.map((x) => x[k]));
  const ratio = pick(gateway, 'rate') / pick(loop, 'rate');
  const row = (name: string, rounds: Round[]) => [
    name,
    perSecond(pick(rounds, 'rate')),
    perSecond(pick(rounds, 'rate') * CLIENTS),
    ms(pick(rounds, 'p50')),
    ms(pick(rounds, 'p99')),
  ];
  return {
    title: 'Browser gateway fan-out',
    table: markdownTable(
      [
        'fan-out to 1,000 WebSocket clients',
        'events/s to all',
        'messages/s',
        'p50 publish→client',
        'p99 publish→client',
      ],
      [row('gateway (`rt.listen({ gateway })`)', gateway), row('hand-written `ws` broadcast loop', loop)],
    ),
    notes: [
      `Gateway / hand-written throughput: ${ratio.toFixed(2)}x (goal >= 0.7x). Median of ${ROUNDS} rounds each, alternating.`,
      `${CLIENTS} \`ws\` clients on loopback, in a child process (the same fleet for both); memory transport.`,
      `Throughput: ${EVENTS} events with at most ${WINDOW} not yet at every client. Latency: ${LATENCY_EVENTS} events one at a time, publish call to arrival, at ${SAMPLED} sampled clients.`,
      'The hand-written loop reads the same transport through a broadcast consumer and sends one pre-encoded frame to every socket; the gateway adds per-client pattern, filter and buffer-bound checks, the resume ring and heartbeats.',
    ],
  };
}
