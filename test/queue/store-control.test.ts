import { randomBytes, randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { JobLease, NewJob, QueueStore, QueueStoreOptions } from '../../src/queue/store.js';
import { testLogger } from '../support/events.js';
import { transportCases, type TestBus } from '../support/transports.js';
import { poll, until } from '../support/wait.js';
import { LeaseSink } from './lease-sink.js';

// The store obligations behind progress, pause and cancel (`src/queue/store.ts`), on every store,
// called the way a `Queue` calls them, with the test's sink in place of the queue's runner.

// A job the server sent just as a worker paused comes back after the ack wait: keep it short.
const OPTIONS: QueueStoreOptions = { ackWaitMs: 5_000, dedupWindowMs: 60_000, keepFinished: 100 };

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

/** A sink that also hears cancel notices. */
class CancelSink extends LeaseSink {
  readonly notices: string[] = [];
  taken = 0;
  override take(lease: JobLease): void {
    this.taken++;
    super.take(lease);
  }
  cancel(id: string): boolean {
    this.notices.push(id);
    return true;
  }
}

describe.each(transportCases)('queue store control obligations on $name', ({ bus: newBus }) => {
  let bus: TestBus | undefined;
  const cleanup: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step();
    await bus?.dispose();
    bus = undefined;
  });

  async function open(): Promise<QueueStore> {
    bus ??= newBus();
    const transport = bus.transport();
    await transport.start({ service: 'control', logger: testLogger });
    cleanup.push(() => transport.close());
    const store = await transport.queueStore(`control_${randomBytes(4).toString('hex')}`, OPTIONS);
    cleanup.push(() => store.close());
    return store;
  }

  async function work(store: QueueStore, paused = false) {
    const sink = new CancelSink();
    const worker = store.work({ concurrency: 1, paused }, sink);
    cleanup.push(async () => {
      sink.releaseAll();
      await worker.stop();
    });
    await worker.ready;
    return { sink, worker };
  }

  it('note(): getJob shows the latest notes, and a retry hands them to the next try as StoredJob.notes', async () => {
    const store = await open();
    const { sink } = await work(store);
    const [{ id }] = (await store.add([newJob()])) as [{ id: string }];
    const first = await sink.next();
    first.note({ progress: 10, logs: ['one'] });
    first.note({ progress: { step: 2 }, logs: ['one', 'two'] });
    await poll(
      () => store.getJob(id),
      (j) => j?.logs?.length === 2,
      'the notes',
    );
    first.retry(0, { name: 'Error', message: 'boom' });
    const second: JobLease = await sink.next('the retried job');
    expect(second.job.notes).toEqual({ progress: { step: 2 }, logs: ['one', 'two'] });
    second.note({ progress: 100, logs: ['one', 'two', 'three'] });
    second.complete('ok');
    const done = await poll(
      () => store.getJob(id),
      (j) => j?.state === 'completed' && j.logs?.length === 3,
      'the completed job with its notes',
    );
    expect(done).toMatchObject({ progress: 100, logs: ['one', 'two', 'three'], result: 'ok' });
  });

  it('QueueWorker.pause: a paused worker takes nothing (also when it starts paused); unpaused, it does', async () => {
    const store = await open();
    const { sink, worker } = await work(store, true);
    await store.add([newJob()]);
    expect(await store.counts()).toMatchObject({ waiting: 1, active: 0 });
    worker.pause(false);
    const lease = await sink.next('the job once resumed');
    worker.pause(true);
    worker.pause(true); // idempotent
    lease.complete(null);
    await store.add([newJob()]);
    // On JetStream a job that reached the worker as it paused goes back; until a worker takes it,
    // the server counts it as active.
    await poll(
      () => store.counts(),
      (n) => n.completed === 1 && n.waiting + n.active === 1,
      'one done, one not taken while paused',
    );
    expect(sink.taken).toBe(1);
    worker.pause(false);
    (await sink.next('the second job')).complete(null);
  });

  it('cancel(): a held job gets a notice on its worker and ends cancelled through its lease', async () => {
    const store = await open();
    const { sink } = await work(store);
    const [{ id }] = (await store.add([newJob()])) as [{ id: string }];
    const lease = await sink.next();
    expect(await store.cancel(id)).toBe(true);
    await until(() => sink.notices.includes(id), 'the cancel notice');
    lease.cancel(1);
    const job = await poll(
      () => store.getJob(id),
      (j) => j?.state === 'cancelled',
      'the cancelled job',
    );
    expect(job).toMatchObject({ id, name: 'send', data: { to: 'ada' }, attempts: 1 });
    await poll(
      () => store.counts(),
      (n) => n.cancelled === 1 && n.active === 0,
      'counts with the cancelled job',
    );
    expect(await store.cancel(id)).toBe(false);
  });
});
