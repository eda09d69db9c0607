import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { z } from 'zod';
import { pino } from 'pino';
import { createRuntime, defineEvents } from '../src/index.js';
import { markdownTable, median, ms, perSecond, quantile } from './stats.js';
import type { BenchSection } from './types.js';

const schema = z.object({ id: z.string(), username: z.string(), role: z.enum(['user', 'admin']) });
const events = defineEvents({ 'user.created': schema });
const payload = (i: number) => ({ id: String(i), username: `user-${i}`, role: 'user' as const });
const silent = pino({ level: 'silent' });

/** The unavoidable work, written by hand: validate, build the envelope, deliver through an EventEmitter. */
function baseline() {
  const emitter = new EventEmitter();
  return {
    publish(data: unknown) {
      const parsed = schema.parse(data);
      const event = {
        specversion: '1.0',
        id: randomUUID(),
        source: 'bench',
        type: 'user.created',
        time: new Date().toISOString(),
        datacontenttype: 'application/json',
        data: parsed,
      };
      emitter.emit('user.created', event);
    },
    on(handler: (event: { data: unknown }) => void) {
      emitter.on('user.created', handler);
    },
  };
}

async function baselineThroughput(n: number): Promise<number> {
  const bus = baseline();
  let handled = 0;
  bus.on(() => void handled++);
  const start = performance.now();
  for (let i = 0; i < n; i++) bus.publish(payload(i));
  if (handled !== n) throw new Error('baseline lost events');
  return n / ((performance.now() - start) / 1000);
}

async function bulwarkThroughput(n: number, concurrency: number): Promise<number> {
  const rt = await createRuntime({ service: 'bench', events, logger: silent });
  let handled = 0;
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  await rt.subscribe('user.created', () => void (++handled === n && done()), { concurrency }).ready;
  const start = performance.now();
  for (let i = 0; i < n; i++) await rt.publish('user.created', payload(i));
  await finished;
  const rate = n / ((performance.now() - start) / 1000);
  await rt.shutdown();
  return rate;
}

async function baselineLatency(n: number): Promise<number[]> {
  const bus = baseline();
  const samples: number[] = [];
  let sent = 0;
  bus.on(() => samples.push(performance.now() - sent));
  for (let i = 0; i < n; i++) {
    sent = performance.now();
    bus.publish(payload(i));
    await new Promise((r) => setImmediate(r));
  }
  return samples;
}

async function bulwarkLatency(n: number): Promise<number[]> {
  const rt = await createRuntime({ service: 'bench', events, logger: silent });
  const samples: number[] = [];
  let sent = 0;
  let next!: () => void;
  await rt.subscribe('user.created', () => {
    samples.push(performance.now() - sent);
    next();
  }).ready;
  for (let i = 0; i < n; i++) {
    const handled = new Promise<void>((r) => (next = r));
    sent = performance.now();
    await rt.publish('user.created', payload(i));
    await handled;
  }
  await rt.shutdown();
  return samples;
}

/** Memory transport publish -> handler -> ack against the hand-written baseline, in one run. */
export async function runCoreBench(): Promise<BenchSection> {
  const n = 100_000;
  const rounds = 5;
  const base: number[] = [];
  const c1: number[] = [];
  const c16: number[] = [];
  await baselineThroughput(20_000);
  await bulwarkThroughput(20_000, 1);
  for (let r = 0; r < rounds; r++) {
    base.push(await baselineThroughput(n));
    c1.push(await bulwarkThroughput(n, 1));
    c16.push(await bulwarkThroughput(n, 16));
  }
  const baseLat = await baselineLatency(5_000);
  const bwLat = await bulwarkLatency(5_000);
  const b = median(base);
  const rows = [
    [
      'hand-written baseline (zod + envelope + EventEmitter)',
      perSecond(b),
      '1.00',
      ms(quantile(baseLat, 0.5)),
      ms(quantile(baseLat, 0.99)),
    ],
    [
      'bulwark memory transport, concurrency 1',
      perSecond(median(c1)),
      (median(c1) / b).toFixed(2),
      ms(quantile(bwLat, 0.5)),
      ms(quantile(bwLat, 0.99)),
    ],
    [
      'bulwark memory transport, concurrency 16',
      perSecond(median(c16)),
      (median(c16) / b).toFixed(2),
      '',
      '',
    ],
  ];
  return {
    title: 'Event delivery on the memory transport (publish -> handler -> ack)',
    table: markdownTable(
      ['', 'throughput (median of 5 x 100k)', 'ratio to baseline', 'latency p50', 'latency p99'],
      rows,
    ),
    notes: [
      'Throughput: `await rt.publish()` in a loop, handler a no-op, until the last event is acked; the baseline does the same work synchronously.',
      'Latency: one event at a time, publish call to handler entry, 5,000 samples each.',
      'bulwark also validates the payload again on receipt, tracks attempts, deadlines and acks, which the baseline does not.',
    ],
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const section = await runCoreBench();
  console.log(section.table);
}
