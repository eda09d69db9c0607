// What the JetStream sections of `npm run bench` (single server, cluster) share: the workload, the
// pipelining helper, and the table both print.
import { performance } from 'node:perf_hooks';
import { z } from 'zod';
import { encodeEvent } from '../src/events/cloudevent.js';
import { isoTime, uuidv7 } from '../src/events/ids.js';
import { defineEvents } from '../src/index.js';
import { markdownTable, median, ms, perSecond, quantile } from './stats.js';

/** Events per throughput row. */
export const N = 50_000;
/** Consume and latency rounds, interleaved raw / bulwark; the table shows the median. */
export const ROUNDS = 3;
/** Publishes in flight at once. */
export const WINDOW = 1_000;
export const LATENCY_N = 5_000;
export const LATENCY_BATCH = 10;
/** Deliveries in flight at once while consuming. */
export const CONCURRENCY = 256;
export const events = defineEvents({ 'bench.event': z.object({ n: z.number(), t: z.number() }) });

/** A CloudEvent as a raw client publishes it: encoded once, with its id for the dedup header. */
export function rawEvent(n: number): { id: string; body: Uint8Array } {
  const id = uuidv7();
  const data = { n, t: performance.now() };
  const event = { specversion: '1.0' as const, id, source: 'bench', type: 'bench.event', time: isoTime() };
  return { id, body: encodeEvent({ ...event, datacontenttype: 'application/json', data }) };
}

/** Runs `send(i)` for i < n with at most `window` in flight; returns msg/s. */
export async function pipelined(
  n: number,
  window: number,
  send: (i: number) => Promise<unknown>,
): Promise<number> {
  const start = performance.now();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < n) await send(next++);
  };
  await Promise.all(Array.from({ length: window }, worker));
  return n / ((performance.now() - start) / 1000);
}

/** One run's figures: publish rates, the consume rates of every round, the latencies of every round. */
export interface JetStreamFigures {
  readonly rawPub: number;
  readonly bwPub: number;
  readonly rawCon: readonly number[];
  readonly bwCon: readonly number[];
  readonly rawLats: readonly number[][];
  readonly bwLats: readonly number[][];
}

/** The table both sections print: raw against bulwark, with the ratio of each measure. */
export function jetstreamTable(r: JetStreamFigures): string {
  const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}x`;
  // the median over rounds of each round's quantile
  const p = (rounds: readonly number[][], q: number) => median(rounds.map((xs) => quantile(xs, q)));
  const latencyRow = (label: string, q: number) => {
    const [raw, bw] = [p(r.rawLats, q), p(r.bwLats, q)];
    return [label, ms(raw), ms(bw), ratio(bw, raw)];
  };
  const [rawCon, bwCon] = [median([...r.rawCon]), median([...r.bwCon])];
  return markdownTable(
    ['measure', 'raw nats.js', 'bulwark', 'bulwark / raw'],
    [
      [
        `publish, ${WINDOW} in flight (msg/s)`,
        perSecond(r.rawPub),
        perSecond(r.bwPub),
        ratio(r.bwPub, r.rawPub),
      ],
      [
        `consume + ack, ${CONCURRENCY} in flight (msg/s)`,
        perSecond(rawCon),
        perSecond(bwCon),
        ratio(bwCon, rawCon),
      ],
      latencyRow('publish→handler p50', 0.5),
      latencyRow('publish→handler p99', 0.99),
    ],
  );
}

/** The notes both sections share: workload, what each side does, how latency is taken. */
export const SHARED_NOTES = [
  `${N.toLocaleString('en-US')} CloudEvents (~200 B JSON) per throughput row; consume: median of ${ROUNDS} interleaved rounds, each a new durable consumer over the same stored events, timed from the first message to the last (consumer set-up excluded for both).`,
  'raw: `js.publish` with msgID; durable pull consumer, `consume()` callback that parses the event (`m.json()`) and `ack()`s it. bulwark: `rt.publish` (zod validation, CloudEvent envelope, msgID) and `rt.subscribe` (decode, validate, subscriber actor, ack) through the NATS transport.',
  `latency: ${LATENCY_N.toLocaleString('en-US')} events published in batches of ${LATENCY_BATCH} while the consumer runs; ${ROUNDS} interleaved rounds, the median of each round's p50 and p99.`,
];
