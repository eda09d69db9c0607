import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { afterEach, describe, expect, it } from 'vitest';
import type { QueueOptions } from '../../src/queue/options.js';
import type { Queue } from '../../src/queue/queue.js';
import { schedulersBucket } from '../../src/queue/schedule.js';
import { TestClock } from '../support/clock.js';
import { useRuntimes } from '../support/runtime.js';
import { transportCases, type TestBus } from '../support/transports.js';
import { poll, until } from '../support/wait.js';

const at = (iso: string): number => Date.parse(iso);

/** Removes the test's schedulers bucket (its stream is `KV_<bucket>`, outside the prefix's streams). */
async function dropBucket(bus: TestBus | undefined): Promise<void> {
  if (!bus?.url) return;
  const nc = await connect({ servers: bus.url });
  try {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.delete(`KV_${schedulersBucket(bus.prefix)}`).catch(() => false);
  } finally {
    await nc.close();
  }
}

describe.each(transportCases)('job schedulers on $name', (c) => {
  let used: TestBus | undefined;
  // Registered first, so it runs after the runtimes are shut down.
  afterEach(async () => {
    await dropBucket(used);
    used = undefined;
  });
  const { runtime, bus } = useRuntimes(c);

  /** A runtime on `clock` whose queue `sched` processes jobs, recording their ids. */
  async function worker(clock: TestClock, service = 'worker', options: QueueOptions = {}) {
    used = bus();
    const rt = await runtime(service, { clock });
    const q = rt.queue('sched', { concurrency: 4, ...options });
    const done: string[] = [];
    q.process((job) => void done.push(job.id));
    await q.ready();
    return { rt, q, done };
  }

  /** Resolves once every scheduler actor of `queues` waits for `due`. */
  function armed(queues: Queue[], due: number, name = 'tick'): Promise<void> {
    const waits = (q: Queue): boolean =>
      q.schedulerActors().some((a) => a.id.endsWith(`/${name}`) && a.state === 'waiting' && a.due === due);
    return until(() => queues.every(waits), `the schedulers to wait for ${new Date(due).toISOString()}`);
  }

  /** Moves `clock` to `t`. */
  const to = (clock: TestClock, t: number): void => clock.advance(t - clock.now());

  it('adds one job per slot of a cron in its time zone, across the spring-forward change', async () => {
    const clock = new TestClock(at('2026-03-27T12:00:00Z'));
    const { q, done } = await worker(clock);
    // 02:30 Berlin: CET (01:30Z), then the day 02:30 does not exist (03:00 CEST), then CEST (00:30Z).
    const info = await q.repeat('tick', { n: 1 }, { cron: '30 2 * * *', tz: 'Europe/Berlin' });
    expect(info).toMatchObject({
      name: 'tick',
      cron: '30 2 * * *',
      tz: 'Europe/Berlin',
      nextSlot: at('2026-03-28T01:30:00Z'),
    });
    const slots = ['2026-03-28T01:30:00Z', '2026-03-29T01:00:00Z', '2026-03-30T00:30:00Z'].map(at);
    for (const [i, slot] of slots.entries()) {
      await armed([q], slot);
      to(clock, slot);
      await until(() => done.length === i + 1, `the job of slot ${i + 1}`);
    }
    expect(done).toEqual(slots.map((s) => `repeat:tick:${s}`));
    const job = await q.getJob(done[0]!);
    expect(job).toMatchObject({ name: 'tick', data: { n: 1 } });
  });

  it('reads 03:00 Berlin as 02:00Z in winter and 01:00Z in summer', async () => {
    const clock = new TestClock(at('2026-03-28T00:00:00Z'));
    const { q, done } = await worker(clock);
    await q.repeat('tick', null, { cron: '0 3 * * *', tz: 'Europe/Berlin' });
    for (const slot of [at('2026-03-28T02:00:00Z'), at('2026-03-29T01:00:00Z')]) {
      await armed([q], slot);
      to(clock, slot);
      await until(() => done.includes(`repeat:tick:${slot}`), 'the slot’s job');
    }
    expect(done).toHaveLength(2);
  });

  it('adds everyMs slots aligned to the epoch, and lists the scheduler with its next and last slot', async () => {
    const t0 = at('2026-07-01T00:00:10Z');
    const clock = new TestClock(t0);
    const { q, done } = await worker(clock);
    await q.repeat('tick', { hello: 'world' }, { everyMs: 60_000 }, { priority: 'high' });
    const slots = [1, 2, 3].map((m) => t0 - 10_000 + m * 60_000);
    for (const slot of slots) {
      await armed([q], slot);
      to(clock, slot);
      await until(() => done.includes(`repeat:tick:${slot}`), 'the slot’s job');
    }
    await armed([q], slots[2]! + 60_000);
    expect(await q.schedulers()).toEqual([
      {
        name: 'tick',
        everyMs: 60_000,
        data: { hello: 'world' },
        nextSlot: slots[2]! + 60_000,
        lastSlot: slots[2],
      },
    ]);
    expect((await q.getJob(done[0]!))?.priority).toBe('high');
  });

  it('adds each slot once with two workers running the schedule', async () => {
    const t0 = at('2026-07-01T00:00:00Z');
    const clock = new TestClock(t0);
    const a = await worker(clock, 'a');
    const b = await worker(clock, 'b');
    await a.q.repeat('tick', null, { everyMs: 1_000 });
    for (let i = 1; i <= 5; i++) {
      await armed([a.q, b.q], t0 + i * 1_000);
      to(clock, t0 + i * 1_000);
      await until(() => a.done.length + b.done.length === i, `slot ${i}`);
    }
    await armed([a.q, b.q], t0 + 6_000);
    const ids = [...a.done, ...b.done].sort();
    expect(ids).toEqual([1, 2, 3, 4, 5].map((i) => `repeat:tick:${t0 + i * 1_000}`));
    expect((await a.q.counts()).completed).toBe(5);
  });

  it('adds a slot once when another worker fires it after the store forgot its id', async () => {
    const t0 = at('2026-07-01T00:00:00Z');
    // Two clocks: worker b reaches the slot only once the store no longer deduplicates its id
    // (memory: not kept once finished; JetStream: a 100 ms dedup window).
    const [ca, cb] = [new TestClock(t0 + 500), new TestClock(t0 + 500)];
    const forgetful = { dedupWindowMs: 100, keepFinished: 0 };
    const a = await worker(ca, 'a', forgetful);
    const b = await worker(cb, 'b', forgetful);
    const slotJobs = (): string[] => [...a.done, ...b.done].filter((id) => id.startsWith('repeat:'));
    await a.q.repeat('tick', null, { everyMs: 1_000 });
    await armed([a.q, b.q], t0 + 1_000);
    to(ca, t0 + 1_000);
    await until(() => slotJobs().length === 1, 'the slot’s job');
    // The store forgot: a job id added again is no longer a duplicate.
    await a.q.add('probe', null, { jobId: 'probe' });
    await poll(
      () => a.q.add('probe', null, { jobId: 'probe' }),
      (r) => !r.duplicate,
      'the store to forget an id',
    );
    to(cb, t0 + 1_000);
    await armed([b.q], t0 + 2_000); // b fired the slot and planned the next
    expect(slotJobs()).toEqual([`repeat:tick:${t0 + 1_000}`]);
  });

  it('owes one catch-up job, the latest missed slot, after every worker was down', async () => {
    const t0 = at('2026-07-01T00:00:00Z');
    const clock = new TestClock(t0 + 500);
    const first = await worker(clock, 'first');
    await first.q.repeat('tick', null, { everyMs: 1_000 });
    await armed([first.q], t0 + 1_000);
    to(clock, t0 + 1_000);
    await until(() => first.done.length === 1, 'the first slot');
    await armed([first.q], t0 + 2_000);
    await first.q.close();
    expect(clock.pending).toBe(0); // the closed queue left no timer

    to(clock, t0 + 10_400); // slots 2..10 pass with no worker
    const second = await worker(clock, 'second');
    await armed([second.q], t0 + 10_000); // the latest missed slot, due at once
    clock.advance(0);
    await until(() => second.done.length === 1, 'the catch-up job');
    await armed([second.q], t0 + 11_000);
    expect(second.done).toEqual([`repeat:tick:${t0 + 10_000}`]);
    const counts = await poll(
      () => second.q.counts(),
      (n) => n.completed === 2,
      'two completed jobs',
    );
    expect(counts).toMatchObject({ completed: 2, waiting: 0, active: 0 });
  });

  it('stops a schedule everywhere on unrepeat, from a queue object that does not process', async () => {
    const t0 = at('2026-07-01T00:00:00Z');
    const clock = new TestClock(t0 + 500);
    const { q, done } = await worker(clock);
    await q.repeat('tick', null, { everyMs: 1_000 });
    await q.repeat('other', null, { everyMs: 5_000 });
    await armed([q], t0 + 1_000);
    const admin = (await runtime('admin', { clock })).queue('sched');
    expect((await admin.schedulers()).map((s) => s.name)).toEqual(['other', 'tick']);
    expect(admin.schedulerActors()).toEqual([]); // it does not process, so it runs no scheduler
    expect(await admin.unrepeat('tick')).toBe(true);
    expect(await admin.unrepeat('tick')).toBe(false);
    await until(() => q.schedulerActors().every((a) => !a.id.endsWith('/tick')), 'the worker to drop it');
    to(clock, t0 + 4_000);
    await armed([q], t0 + 5_000, 'other');
    to(clock, t0 + 5_000);
    await until(() => done.length === 1, 'the other scheduler’s job');
    expect(done).toEqual([`repeat:other:${t0 + 5_000}`]);
    expect((await q.schedulers()).map((s) => s.name)).toEqual(['other']);
  });

  it('replaces a definition by name: the same one writes nothing, a new one is planned at once', async () => {
    const t0 = at('2026-07-01T00:00:00Z');
    const clock = new TestClock(t0 + 500);
    const { q, done } = await worker(clock);
    const first = await q.repeat('tick', null, { everyMs: 10_000 });
    expect(await q.repeat('tick', null, { everyMs: 10_000 })).toEqual(first);
    await armed([q], t0 + 10_000);
    await q.repeat('tick', null, { everyMs: 2_000 });
    await armed([q], t0 + 2_000);
    to(clock, t0 + 2_000);
    await until(() => done.length === 1, 'a job on the new schedule');
    expect(done).toEqual([`repeat:tick:${t0 + 2_000}`]);
    expect(await q.schedulers()).toMatchObject([{ name: 'tick', everyMs: 2_000, lastSlot: t0 + 2_000 }]);
  });
});
