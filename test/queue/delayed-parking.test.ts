import { AckPolicy, DeliverPolicy, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { connect, nanos } from '@nats-io/transport-node';
import { describe, expect, it } from 'vitest';
import { Names } from '../../src/transport/nats/toolkit/names.js';
import { poll, until } from '../support/wait.js';
import { useRuntimes } from '../support/runtime.js';
import { transportCase } from '../support/transports.js';

const nats = transportCase('nats');
const encoder = new TextEncoder();

// Parking by due time is the JetStream store's design; the memory store keeps a heap of due times.
describe('job queue on nats: jobs parked by due time', () => {
  const { runtime, bus } = useRuntimes(nats);

  /** Runs `fn` with a JetStream manager on a connection of its own, closed after. */
  async function withJsm<T>(fn: (jsm: JetStreamManager) => Promise<T>): Promise<T> {
    const nc = await connect({ servers: bus().url });
    try {
      return await fn(await jetstreamManager(nc));
    } finally {
      await nc.close();
    }
  }

  /** Every consumer of the queue's stream: what the server tracks for it. */
  function consumerStates(queue: string): Promise<{ ackPending: number; redelivered: number }> {
    return withJsm(async (jsm) => {
      const out = { ackPending: 0, redelivered: 0 };
      for await (const ci of jsm.consumers.list(new Names(bus().prefix).queue(queue).stream)) {
        out.ackPending += ci.num_ack_pending;
        out.redelivered += ci.num_redelivered;
      }
      return out;
    });
  }

  it('costs no delivery while waiting, never runs a job early, and runs each when due', async () => {
    const rt = await runtime();
    const q = rt.queue<number>('parking', { concurrency: 10 });
    const ran = new Map<number, number>();
    q.process((job) => void ran.set(job.data, Date.now()));
    await q.ready();
    const dueAt = new Map<number, number>();
    for (let i = 0; i < 20; i++) {
      const delayMs = 300 + i * 60;
      const at = Date.now();
      await q.add('later', i, { delayMs });
      dueAt.set(i, at + delayMs);
    }
    expect((await q.counts()).delayed).toBeGreaterThan(0);
    expect(await consumerStates('parking')).toEqual({ ackPending: 0, redelivered: 0 });
    await until(() => ran.size === 20, 'every delayed job', 15_000);
    for (const [i, at] of ran) {
      expect(at).toBeGreaterThanOrEqual(dueAt.get(i)!);
      expect(at - dueAt.get(i)!).toBeLessThan(1_000);
    }
    await poll(
      () => q.counts(),
      (c) => c.completed === 20 && c.delayed === 0,
      'every job completed, none left delayed',
    );
  });

  it('runs each job once when two workers move the same due seconds', async () => {
    const [a, b] = [await runtime('a'), await runtime('b')];
    const runs = new Map<number, number>();
    for (const rt of [a, b]) {
      const q = rt.queue<number>('shared-due', { concurrency: 20 });
      q.process((job) => void runs.set(job.data, (runs.get(job.data) ?? 0) + 1));
      await q.ready();
    }
    const q = a.queue<number>('shared-due');
    const jobs = Array.from({ length: 300 }, (_, i) => ({ name: 'j', data: i, opts: { delayMs: 700 } }));
    await q.addBulk(jobs);
    await poll(
      () => q.counts(),
      (c) => c.completed === 300,
      'every job completed',
      20_000,
    );
    expect(runs.size).toBe(300);
    expect([...runs.values()].filter((n) => n !== 1)).toEqual([]);
  });

  it('skips an entry whose job moved already: a move repeated after a crash runs nothing twice', async () => {
    const rt = await runtime();
    const q = rt.queue<number>('repeat', { concurrency: 2 });
    const runs: number[] = [];
    q.process((job) => void runs.push(job.data));
    await q.ready();
    const { id } = await q.add('j', 1, { delayMs: 300 });
    const dueStream = `${new Names(bus().prefix).queue('repeat').stream}~due`;
    await withJsm(async (jsm) => {
      const entry = await jsm.streams.getMessage(dueStream, {
        last_by_subj: `${bus().prefix}.qdue.repeat.*`,
      });
      if (!entry) throw new Error('no due entry for the delayed job');
      await until(() => runs.length === 1, 'the delayed job');
      // The same entry again, as a mover that died before its purge would leave it.
      await jsm
        .jetstream()
        .publish(`${bus().prefix}.qdue.repeat.${Math.ceil(Date.now() / 1_000)}`, entry.data);
      await poll(
        async () => (await jsm.streams.info(dueStream)).state.messages,
        (n) => n === 0,
        'the repeated entry moved and purged',
      );
    });
    expect(runs).toEqual([1]);
    expect((await q.getJob(id))?.state).toBe('completed');
  });

  it('drains jobs parked by an earlier version on its parked consumers', async () => {
    const rt = await runtime();
    const q = rt.queue<string>('legacy', { concurrency: 4 });
    await q.ready();
    const names = new Names(bus().prefix).queue('legacy');
    await withJsm(async (jsm) => {
      const js = jsm.jetstream();
      // As the earlier version provisioned and parked them: a consumer per parked kind.
      for (const kind of ['delayed', 'retry'])
        await jsm.consumers.add(names.stream, {
          durable_name: kind,
          filter_subject: names.filter(kind),
          ack_policy: AckPolicy.Explicit,
          deliver_policy: DeliverPolicy.All,
          ack_wait: nanos(30_000),
          max_deliver: -1,
        });
      const due = Date.now() + 500;
      const record = (id: string, kind: string, a: number) =>
        js.publish(
          names.subject(id, kind),
          encoder.encode(JSON.stringify({ v: 1, id, n: 'old', d: id, p: 'normal', a, due })),
        );
      await record('old-delayed', 'delayed', 0);
      await record('old-retry', 'retry', 1);
    });
    expect((await q.getJob('old-delayed'))?.state).toBe('delayed');
    const ran = new Map<string, number>();
    q.process((job) => void ran.set(job.data, Date.now()));
    await until(() => ran.size === 2, 'both old parked jobs', 15_000);
    expect([...ran.keys()].sort()).toEqual(['old-delayed', 'old-retry']);
  });

  it("parks jobs outside the queue's stream: its consumers walk nothing for them, and admin reads the parked records", async () => {
    const rt = await runtime();
    const q = rt.queue<number>('parked-apart', { concurrency: 4 });
    const ran: number[] = [];
    q.process((job) => void ran.push(job.data));
    await q.ready();
    const jobs = Array.from({ length: 200 }, (_, i) => ({
      name: 'j',
      data: i,
      opts: { delayMs: 3_600_000, jobId: `p${i}` },
    }));
    await q.addBulk(jobs);
    const stream = new Names(bus().prefix).queue('parked-apart').stream;
    await withJsm(async (jsm) => {
      expect((await jsm.streams.info(stream)).state.messages).toBe(0);
      expect((await jsm.streams.info(`${stream}~parked`)).state.messages).toBe(200);
    });
    expect(await q.getJob('p7')).toMatchObject({ id: 'p7', state: 'delayed', data: 7 });
    expect(await q.counts()).toMatchObject({ delayed: 200, waiting: 0 });
    expect(await Promise.all([q.cancel('p1'), q.cancel('p1')])).toContain(true);
    expect(await q.getJob('p1')).toMatchObject({ state: 'cancelled', data: 1 });
    expect(await q.remove('p2')).toBe(true);
    expect(await q.getJob('p2')).toBeUndefined();
    expect(await q.counts()).toMatchObject({ delayed: 198, cancelled: 1 });
    expect(ran).toEqual([]);
  });

  it('never promotes a parked job that was cancelled after it was parked, even when its parked record stayed', async () => {
    const rt = await runtime();
    const q = rt.queue<string>('cancel-kept', { concurrency: 2 });
    const ran: string[] = [];
    q.process((job) => void ran.push(job.data));
    await q.ready();
    await q.add('j', 'x', { delayMs: 400, jobId: 'kept' });
    const names = new Names(bus().prefix).queue('cancel-kept');
    await withJsm(async (jsm) => {
      // A cancel whose drop of the parked record was lost: only its `cancelled` record landed.
      const record = { v: 1, id: 'kept', p: 'normal', a: 0, n: 'j', d: 'x' };
      await jsm
        .jetstream()
        .publish(names.subject('kept', 'cancelled'), encoder.encode(JSON.stringify(record)));
      expect((await q.getJob('kept'))?.state).toBe('cancelled');
      await poll(
        async () => (await jsm.streams.info(`${names.stream}~due`)).state.messages,
        (n) => n === 0,
        'the due entry moved',
        10_000,
      );
      expect((await jsm.streams.info(`${names.stream}~parked`)).state.messages).toBe(0);
    });
    await new Promise((r) => setTimeout(r, 300));
    expect(ran).toEqual([]);
    expect((await q.getJob('kept'))?.state).toBe('cancelled');
  });

  it("promotes a job parked by an earlier version in the queue's own stream", async () => {
    const rt = await runtime();
    const q = rt.queue<string>('legacy-due', { concurrency: 2 });
    await q.ready();
    const names = new Names(bus().prefix).queue('legacy-due');
    await withJsm(async (jsm) => {
      const js = jsm.jetstream();
      const due = Date.now() + 400;
      const job = { v: 1, id: 'old-later', n: 'old', d: 'old-later', p: 'normal', a: 0, due };
      // As the earlier version parked it: the record in the queue's stream, an entry without a kind.
      await q.add('warm', 'warm', { delayMs: 3_600_000 }); // makes the due stream
      await js.publish(names.subject('old-later', 'later'), encoder.encode(JSON.stringify(job)));
      await js.publish(
        `${bus().prefix}.qdue.legacy-due.${Math.floor(due / 1_000)}`,
        encoder.encode(JSON.stringify({ id: 'old-later', a: 0, due })),
      );
    });
    const ran: string[] = [];
    q.process((job) => void ran.push(job.data));
    await until(() => ran.includes('old-later'), 'the old parked job', 10_000);
    expect((await q.getJob('old-later'))?.state).toBe('completed');
  });
});
