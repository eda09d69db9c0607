import { randomBytes, randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { deadLetterGroup } from '../../src/queue/dead-letter.js';
import { hasQueues, type NewJob, type QueueStore, type QueueStoreOptions } from '../../src/queue/store.js';
import { PRIORITIES } from '../../src/queue/types.js';
import { testLogger } from '../support/events.js';
import { transportCases, type TestBus } from '../support/transports.js';
import { poll } from '../support/wait.js';
import { LeaseSink } from './lease-sink.js';

// The obligations of `src/queue/store.ts`, checked on every store: each case calls the store the
// way a `Queue` does, with the test's own sink in place of the queue's runner.

const OPTIONS: QueueStoreOptions = { ackWaitMs: 30_000, dedupWindowMs: 60_000, keepFinished: 100 };
const boom = { name: 'Error', message: 'boom' };
/** A retry's backoff: long enough to see the job parked, short enough to keep the suite quick. */
const RETRY_MS = 400;
/** The ack wait of the redelivery case: the job comes back after it. */
const ACK_WAIT_MS = 500;

function newJob(over: Partial<NewJob> = {}): NewJob {
  return {
    id: randomUUID(),
    dedup: false,
    name: 'send',
    data: { to: 'ada' },
    priority: 'normal',
    delayMs: 0,
    maxAttempts: 3,
    backoffMs: undefined,
    ...over,
  };
}

const queueName = () => `conformance_${randomBytes(4).toString('hex')}`;

describe.each(transportCases)('queue store contract on $name', ({ name, bus: newBus }) => {
  let bus: TestBus | undefined;
  const cleanup: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step();
    await bus?.dispose();
    bus = undefined;
  });

  /** Opens the store `queue` on a started transport of this test's bus (on NATS, a connection of its own). */
  async function open(queue: string, options: Partial<QueueStoreOptions> = {}) {
    bus ??= newBus();
    const transport = bus.transport();
    expect(hasQueues(transport)).toBe(true);
    await transport.start({ service: 'conformance', logger: testLogger });
    cleanup.push(() => transport.close());
    const store = await transport.queueStore(queue, { ...OPTIONS, ...options });
    cleanup.push(() => store.close());
    return { transport, store };
  }

  /** A worker of `store` whose leases go to a {@link LeaseSink}; resolves once jobs flow. */
  async function work(store: QueueStore, concurrency = 1) {
    const leases = new LeaseSink();
    const worker = store.work({ concurrency }, leases);
    cleanup.push(async () => {
      await worker.stop();
      leases.releaseAll();
    });
    await worker.ready;
    return { leases, worker };
  }

  it('add resolves once the jobs are stored, in order, and getJob sees a new job waiting', async () => {
    const { store } = await open(queueName());
    const jobs = [newJob({ name: 'a' }), newJob({ name: 'b', priority: 'high', data: { n: 2 } })];
    expect(await store.add(jobs)).toEqual(jobs.map((j) => ({ id: j.id })));
    expect(await store.getJob(jobs[1]!.id)).toMatchObject({
      id: jobs[1]!.id,
      name: 'b',
      data: { n: 2 },
      state: 'waiting',
      priority: 'high',
      attempts: 0,
    });
    expect(await store.getJob(randomUUID())).toBeUndefined();
    expect(await store.counts()).toMatchObject({ waiting: 2, active: 0, completed: 0 });
  });

  it('stores a caller-chosen id once: adding it again answers duplicate: true', async () => {
    const { store } = await open(queueName());
    const job = newJob({ id: 'order-42', dedup: true, data: { n: 1 } });
    expect(await store.add([job])).toEqual([{ id: 'order-42' }]);
    expect(await store.add([{ ...job, data: { n: 2 } }])).toEqual([{ id: 'order-42', duplicate: true }]);
    expect(await store.counts()).toMatchObject({ waiting: 1 });
    expect(await store.getJob('order-42')).toMatchObject({ state: 'waiting', data: { n: 1 } });
  });

  it('hands out waiting jobs highest priority first', async () => {
    const { store } = await open(queueName());
    const lowestFirst = [...PRIORITIES].reverse();
    await store.add(
      lowestFirst.flatMap((p) => [newJob({ name: p, priority: p }), newJob({ name: p, priority: p })]),
    );
    const { leases } = await work(store, 1);
    const order: string[] = [];
    for (let i = 0; i < 8; i++) {
      const lease = await leases.next(`job ${i + 1} of 8`);
      order.push(lease.job.name);
      lease.complete(null);
    }
    expect(order).toEqual(PRIORITIES.flatMap((p) => [p, p]));
  });

  it('never hands a worker more unsettled leases than its concurrency', async () => {
    const { store } = await open(queueName());
    const jobs = Array.from({ length: 6 }, (_, i) => newJob({ data: i }));
    await store.add(jobs);
    const { leases } = await work(store, 2);
    const held = [await leases.next(), await leases.next()];
    const seen = held.map((l) => l.job.id);
    for (let i = 3; i <= jobs.length; i++) {
      held.shift()!.complete(null); // a slot frees: the next job comes
      const lease = await leases.next(`lease ${i} of ${jobs.length}`);
      seen.push(lease.job.id);
      held.push(lease);
    }
    for (const lease of held) lease.complete(null);
    expect(leases.peak).toBe(2);
    expect(seen.sort()).toEqual(jobs.map((j) => j.id).sort());
  });

  it('keeps a retried job, failed with its error, until delayMs has passed; then it comes back with attemptsMade + 1', async () => {
    const { store } = await open(queueName());
    const job = newJob();
    await store.add([job]);
    const { leases } = await work(store);
    const first = await leases.next();
    expect(first.job).toMatchObject({ id: job.id, attemptsMade: 0 });
    const retriedAt = Date.now();
    first.retry(RETRY_MS, boom);
    const parked = await poll(
      () => store.getJob(job.id),
      (j) => j?.state === 'failed',
      'the job backing off',
      RETRY_MS,
    );
    expect(parked).toMatchObject({ state: 'failed', attempts: 1, error: boom });
    const again = await leases.next('the retried job');
    // Both stores count whole ms of Date.now() and hand a parked job out only past its due ms.
    expect(Date.now() - retriedAt).toBeGreaterThanOrEqual(RETRY_MS);
    expect(again.job).toMatchObject({ id: job.id, name: job.name, data: job.data, attemptsMade: 1 });
    again.complete(null);
  });

  it('complete(result): getJob says completed with the result, and counts agree', async () => {
    const { store } = await open(queueName());
    const job = newJob();
    await store.add([job]);
    const { leases } = await work(store);
    (await leases.next()).complete({ sent: true });
    const done = await poll(
      () => store.getJob(job.id),
      (j) => j?.state === 'completed',
      'the completed job',
    );
    expect(done).toMatchObject({ id: job.id, data: job.data, attempts: 1, result: { sent: true } });
    // The outcome record and the ack go out together but may land apart: wait for both.
    const counts = await poll(
      () => store.counts(),
      (n) => n.completed === 1 && n.active === 0,
      'counts with the job completed',
    );
    expect(counts).toEqual({
      waiting: 0,
      delayed: 0,
      active: 0,
      completed: 1,
      failed: 0,
      dead: 0,
      cancelled: 0,
    });
  });

  it('dead(...) writes a dead letter in group queue:<name>; redriving it puts the same job back with fresh attempts', async () => {
    const queue = queueName();
    const { transport, store } = await open(queue);
    const job = newJob({ name: 'send mail', priority: 'high', maxAttempts: 2 });
    await store.add([job]);
    const { leases } = await work(store);
    (await leases.next()).dead(boom, 'handler', 2);
    const group = deadLetterGroup(queue);
    const [letter] = await poll(
      () => transport.deadLetters.list({ group }),
      (d) => d.length === 1,
      'the dead letter',
    );
    expect(letter).toMatchObject({
      group,
      reason: 'handler',
      attempts: 2,
      error: boom,
      event: { id: job.id, data: job.data },
    });
    expect(
      await poll(
        () => store.getJob(job.id),
        (j) => j?.state === 'dead',
        'the dead job',
      ),
    ).toMatchObject({ attempts: 2, error: boom });

    expect(await transport.deadLetters.redrive({ ids: [job.id] })).toEqual({ redriven: 1 });
    const again = await leases.next('the redriven job');
    expect(again.job).toMatchObject({
      id: job.id,
      name: 'send mail',
      data: job.data,
      priority: 'high',
      maxAttempts: 2,
      attemptsMade: 0,
    });
    again.complete('sent');
    expect(
      await poll(
        () => store.getJob(job.id),
        (j) => j?.state === 'completed',
        'the redriven job completed',
      ),
    ).toMatchObject({ attempts: 1, result: 'sent' });
  });

  it('release() hands the job back untried: the next worker takes it as it was', async () => {
    const { store } = await open(queueName());
    const job = newJob();
    await store.add([job]);
    const closing = await work(store);
    const lease = await closing.leases.next();
    // As a closing queue does: its worker stops taking jobs, then hands back what it holds.
    await closing.worker.stop();
    lease.release();
    const { leases } = await work(store);
    const again = await leases.next('the released job');
    expect(again.job).toMatchObject({ id: job.id, data: job.data, attemptsMade: 0 });
    expect(await store.getJob(job.id)).toMatchObject({ attempts: 0 });
    again.complete(null);
  });

  // Redelivery: only a store whose leases can outlive their worker has it. A memory lease lives
  // and dies with its process, so the memory store hands nothing out twice and leaves
  // `deliveries` out; the case does not apply to it.
  if (name === 'nats') {
    it('hands a lease neither settled nor kept working past ackWaitMs out again, counting deliveries', async () => {
      const queue = queueName();
      const silent = await open(queue, { ackWaitMs: ACK_WAIT_MS });
      const job = newJob();
      await silent.store.add([job]);
      const first = await (await work(silent.store)).leases.next();
      expect(first.job).toMatchObject({ id: job.id, attemptsMade: 0, deliveries: 1 });
      // Its worker goes silent as a crashed process would: the connection closes under the
      // unsettled lease, and no working() reaches the server again.
      await silent.transport.close();
      const other = await open(queue, { ackWaitMs: ACK_WAIT_MS });
      const { leases } = await work(other.store);
      const again = await leases.next('the job after the ack wait', 10 * ACK_WAIT_MS);
      expect(again.job).toMatchObject({ id: job.id, attemptsMade: 0, deliveries: 2 });
      again.complete(null);
    });
  }
});
