// Request/reply on NATS: bulwark's typed endpoints (schemas both ways, breaker, deadline header,
// supervised endpoint actor) against raw nats.js `nc.request` and a raw `nc.subscribe` responder that
// parses JSON. One private nats-server, 16 requests in flight, rounds interleaved so that machine
// noise hits both contenders alike.
import { performance } from 'node:perf_hooks';
import { connect } from '@nats-io/transport-node';
import { pino } from 'pino';
import { z } from 'zod';
import { createRuntime } from '../src/runtime/create-runtime.js';
import { defineEndpoints } from '../src/rpc/endpoints.js';
import { natsTransport } from '../src/transport/nats/nats-transport.js';
import { defineEvents } from '../src/events/registry.js';
import { startNatsServer } from '../test/setup/nats-server.js';
import { markdownTable, median, ms, perSecond, quantile } from './stats.js';
import type { BenchSection } from './types.js';

/** Requests per round. */
const N = 20_000;
const ROUNDS = 3;
const IN_FLIGHT = 16;
const logger = pino({ level: 'silent' });

const api = defineEndpoints({
  'bench.get': {
    request: z.object({ id: z.string() }),
    response: z.object({ id: z.string(), status: z.string() }),
  },
});

/** One round: `IN_FLIGHT` callers each send requests back to back until `N` are done. */
interface Round {
  readonly perSec: number;
  readonly p50: number;
  readonly p99: number;
}

async function drive(call: (i: number) => Promise<unknown>): Promise<Round> {
  const lat: number[] = new Array<number>(N);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < N; i = next++) {
      const t = performance.now();
      await call(i);
      lat[i] = performance.now() - t;
    }
  };
  const start = performance.now();
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  const elapsed = performance.now() - start;
  return { perSec: (N / elapsed) * 1_000, p50: quantile(lat, 0.5), p99: quantile(lat, 0.99) };
}

/** A raw responder on its own connection, and a raw caller. */
async function rawContender(
  url: string,
): Promise<{ call: (i: number) => Promise<unknown>; close: () => Promise<void> }> {
  const server = await connect({ servers: url });
  const client = await connect({ servers: url });
  const decoder = new TextDecoder();
  server.subscribe('raw.bench.get', {
    queue: 'q',
    callback: (err, msg) => {
      if (err) return;
      const req = JSON.parse(decoder.decode(msg.data)) as { id: string };
      msg.respond(JSON.stringify({ id: req.id, status: 'ok' }));
    },
  });
  await server.flush();
  return {
    call: async (i) => {
      const reply = await client.request('raw.bench.get', JSON.stringify({ id: String(i) }), {
        timeout: 5_000,
      });
      return JSON.parse(decoder.decode(reply.data)) as unknown;
    },
    close: async () => {
      await Promise.all([server.close(), client.close()]);
    },
  };
}

/** A bulwark server runtime and a bulwark client runtime, each on its own connection. */
async function bulwarkContender(
  url: string,
): Promise<{ call: (i: number) => Promise<unknown>; close: () => Promise<void> }> {
  const events = defineEvents({});
  const make = (service: string) =>
    createRuntime({
      service,
      events,
      transport: natsTransport({ servers: url, prefix: 'rpcbench' }),
      logger,
      handleSignals: false,
    });
  const server = await make('orders');
  const client = await make('shop');
  await server.handle(api, 'bench.get', (req) => ({ id: req.id, status: 'ok' })).ready;
  return {
    call: (i) => client.request(api, 'bench.get', { id: String(i) }, { timeoutMs: 5_000 }),
    close: async () => {
      await client.shutdown();
      await server.shutdown();
    },
  };
}

type Contender = Awaited<ReturnType<typeof rawContender>>;

function summary(name: string, rounds: Round[], raw: Round[]): (string | number)[] {
  const perSec = median(rounds.map((r) => r.perSec));
  const rawPerSec = median(raw.map((r) => r.perSec));
  const p99 = median(rounds.map((r) => r.p99));
  const rawP99 = median(raw.map((r) => r.p99));
  return [
    name,
    perSecond(perSec),
    `${(perSec / rawPerSec).toFixed(2)}×`,
    ms(median(rounds.map((r) => r.p50))),
    ms(p99),
    `${p99 - rawP99 >= 0 ? '+' : ''}${(p99 - rawP99).toFixed(3)} ms`,
  ];
}

/** Measures bulwark's request/reply against raw nats.js (and Moleculer when installed) on one private nats-server. */
export async function runRpcBench(): Promise<BenchSection> {
  const server = await startNatsServer();
  const contenders: [string, Contender][] = [];
  try {
    contenders.push(['raw nats.js request + subscribe', await rawContender(server.url)]);
    contenders.push(['bulwark rt.request + rt.handle', await bulwarkContender(server.url)]);
    const rounds = contenders.map(() => [] as Round[]);
    for (const [, c] of contenders) await drive(c.call); // warm-up
    for (let r = 0; r < ROUNDS; r++)
      for (const [i, [, c]] of contenders.entries()) rounds[i]!.push(await drive(c.call));
    const raw = rounds[0]!;
    const rows = contenders.map(([name], i) => summary(name, rounds[i]!, raw));
    return {
      title: `Request/reply on NATS: bulwark vs raw nats.js (${IN_FLIGHT} in flight)`,
      table: markdownTable(['contender', 'requests/s', 'vs raw', 'p50', 'p99', 'p99 vs raw'], rows),
      notes: [
        `nats-server on loopback; server and client on separate connections in one Node process; ${N.toLocaleString('en-US')} requests per round, median of ${ROUNDS} interleaved rounds after a warm-up.`,
        'bulwark validates the request and response on both sides (zod), sends the deadline and a request id as headers, goes through the rpc:<name> breaker and answers from a supervised endpoint actor.',
        'bulwark sends its requests over one reply subscription per connection with a plain timer per request; `nc.request` builds two error objects with stack traces per call (its timeout and its failure context), which is most of the difference.',
        'No Moleculer row: moleculer 0.15.2 does not install next to this project (its optional peer ioredis ^5 conflicts with the ioredis 6.0.0 dev dependency), and forcing peers is not done here.',
      ],
    };
  } finally {
    for (const [, c] of contenders) await c.close().catch(() => undefined);
    await server.dispose();
  }
}
