import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/errors.js';
import { FlowStore, flowKey, isReleased, type FlowRecord } from '../../src/queue/flow-store.js';
import type { JobInfo } from '../../src/queue/types.js';
import type { Queue } from '../../src/queue/queue.js';
import { Flows } from '../../src/queue/flows.js';
import { newJob } from '../../src/queue/options.js';
import type { JobLease, QueueTransport } from '../../src/queue/store.js';
import { testLogger } from '../support/events.js';
import { useRuntimes, type TestRuntime } from '../support/runtime.js';
import { transportCases } from '../support/transports.js';
import { deferred, poll, until } from '../support/wait.js';

/** Processes `queue` with a handler that only counts its runs. @returns the count so far */
function countRuns(queue: Queue): () => number {
  let runs = 0;
  queue.process(async () => void runs++);
  return () => runs;
}

describe.each(transportCases)('job flows on $name', (c) => {
  const { runtime } = useRuntimes(c);

  /** Waits until the queue has nothing waiting or active and `completed` finished jobs. */
  const settled = (rt: TestRuntime, queue: string, completed: number) =>
    poll(
      () => rt.queue(queue).counts(),
      (n) => n.waiting === 0 && n.active === 0 && n.completed === completed,
      `${queue}: ${completed} completed, none waiting or active`,
    );

  it('runs the parent once every child in two queues completed, with their results; getJob shows waiting-children', async () => {
    const rt = await runtime();
    const invoices = rt.queue<{ order: number }>('fl-invoices');
    const pdf = rt.queue<{ page: number }>('fl-pdf');
    const mail = rt.queue<string>('fl-mail');
    const done: string[] = [];
    pdf.on('completed', (j) => done.push(`fl-pdf/${j.id}`));
    mail.on('completed', (j) => done.push(`fl-mail/${j.id}`));
    const flow = await invoices.addFlow({
      name: 'invoice',
      data: { order: 7 },
      children: [
        { queue: 'fl-pdf', name: 'render', data: { page: 1 } },
        { queue: 'fl-mail', name: 'notify', data: 'ada@example.com' },
        { queue: 'fl-pdf', name: 'render', data: { page: 2 } },
      ],
    });
    expect(flow.children).toEqual([
      { queue: 'fl-pdf', id: `${flow.id}:0` },
      { queue: 'fl-mail', id: `${flow.id}:1` },
      { queue: 'fl-pdf', id: `${flow.id}:2` },
    ]);
    expect(await invoices.getJob(flow.id)).toMatchObject({
      id: flow.id,
      name: 'invoice',
      data: { order: 7 },
      state: 'waiting-children',
      children: { total: 3, pending: 3, failed: 0 },
    });
    const ran = deferred<{ seen: string[]; results: unknown }>();
    invoices.process(async (job) => {
      const results = await job.childrenResults();
      ran.resolve({ seen: [...done], results });
      return Object.keys(results).length;
    });
    pdf.process(async (job) => `page ${job.data.page}`);
    await poll(
      () => invoices.getJob(flow.id),
      (j) => j?.children?.pending === 1,
      'the pdf children recorded',
    );
    expect(await invoices.getJob(flow.id)).toMatchObject({ state: 'waiting-children' });
    mail.process(async (job) => ({ to: job.data }));
    const { seen, results } = await ran.promise;
    expect(seen.sort()).toEqual(flow.children.map((k) => `${k.queue}/${k.id}`).sort());
    expect(results).toEqual({
      [`fl-pdf/${flow.id}:0`]: 'page 1',
      [`fl-mail/${flow.id}:1`]: { to: 'ada@example.com' },
      [`fl-pdf/${flow.id}:2`]: 'page 2',
    });
    await poll(
      () => invoices.getJob(flow.id),
      (j) => j?.state === 'completed',
      'the parent completed',
    );
    expect((await invoices.getJob(flow.id))?.result).toBe(3);
  });

  it('a dead child fails the parent with the reason, without running it', async () => {
    const rt = await runtime();
    const parents = rt.queue('fl-dead-parents');
    const kids = rt.queue<number>('fl-dead-kids', { maxAttempts: 1 });
    const dead: JobInfo[] = [];
    parents.on('dead', (j) => dead.push(j));
    const parentRuns = countRuns(parents);
    const flow = await parents.addFlow({
      name: 'report',
      data: null,
      children: [
        { queue: 'fl-dead-kids', name: 'ok', data: 1 },
        { queue: 'fl-dead-kids', name: 'bad', data: 2 },
      ],
    });
    kids.process(async (job) => {
      if (job.data === 2) throw new Error('boom');
      return job.data;
    });
    const parent = await poll(
      () => parents.getJob(flow.id),
      (j) => j?.state === 'dead',
      'the parent dead',
    );
    expect(parent?.error).toEqual({
      name: 'ChildFailedError',
      message: `child fl-dead-kids/${flow.id}:1 died: boom`,
    });
    expect(dead.map((j) => j.id)).toEqual([flow.id]);
    expect(parentRuns()).toBe(0);
  });

  it('a child cancelled or removed while it waits fails its parent; a waiting parent can be cancelled', async () => {
    const rt = await runtime();
    const parents = rt.queue('fl-left-parents');
    const kids = rt.queue<number>('fl-left-kids');
    const parentRuns = countRuns(parents);
    const child = (n: number) => ({ queue: 'fl-left-kids', name: 'n', data: n });
    const a = await parents.addFlow({ name: 'a', data: null, children: [child(1), child(2)] });
    const b = await parents.addFlow({ name: 'b', data: null, children: [child(3)] });
    const c = await parents.addFlow({ name: 'c', data: null, children: [child(4)] });
    expect(await kids.getJob(`${a.id}:0`)).toMatchObject({ parent: { queue: 'fl-left-parents', id: a.id } });
    // No worker takes the children: they leave while waiting.
    expect(await kids.cancel(`${a.id}:0`)).toBe(true);
    expect(await kids.remove(`${b.id}:0`)).toBe(true);
    // Retried: already cancelled, so false; its parent is told again, which changes nothing.
    expect(await kids.cancel(`${a.id}:0`)).toBe(false);
    const deadA = await poll(
      () => parents.getJob(a.id),
      (j) => j?.state === 'dead',
      'parent a dead',
    );
    expect(deadA?.error?.message).toBe(`child fl-left-kids/${a.id}:0 was cancelled: the job was cancelled`);
    const deadB = await poll(
      () => parents.getJob(b.id),
      (j) => j?.state === 'dead',
      'parent b dead',
    );
    expect(deadB?.error?.message).toBe(`child fl-left-kids/${b.id}:0 was removed: the job was removed`);
    // A parent still waiting for its children is dropped: it never runs.
    expect(await parents.cancel(c.id)).toBe(true);
    expect(await parents.getJob(c.id)).toBeUndefined();
    expect(await parents.cancel(c.id)).toBe(false);
    kids.process(async (job) => job.data);
    await poll(
      () => kids.counts(),
      (n) => n.completed === 2 && n.waiting === 0,
      'the other children ran',
    );
    expect(parentRuns()).toBe(0);
    expect(await parents.getJob(c.id)).toBeUndefined();
  });

  it('a remove or cancel whose write to the parent failed tells the parent when it is retried', async () => {
    const rt = await runtime();
    const parents = rt.queue('fl-rm-parents');
    const kids = rt.queue<number>('fl-rm-kids');
    const parentRuns = countRuns(parents);
    const child = { queue: 'fl-rm-kids', name: 'n', data: 1 };
    const removed = await parents.addFlow({ name: 'p', data: null, children: [child] });
    const cancelled = await parents.addFlow({ name: 'p', data: null, children: [child] });
    // The flow record's write is lost once each time (a leader election, say), as the parent is told.
    const store = (kids as unknown as { flows(): { store: FlowStore } }).flows().store;
    const settle = store.settle.bind(store);
    let calls = 0;
    store.settle = (...args) =>
      calls++ % 2 === 0 ? Promise.reject(new Error('write lost')) : settle(...args);
    await expect(kids.remove(`${removed.id}:0`)).rejects.toThrow('write lost');
    expect(await kids.remove(`${removed.id}:0`)).toBe(true);
    expect(await kids.getJob(`${removed.id}:0`)).toBeUndefined();
    await expect(kids.cancel(`${cancelled.id}:0`)).rejects.toThrow('write lost');
    expect(await kids.cancel(`${cancelled.id}:0`)).toBe(false);
    for (const [flow, how] of [
      [removed, 'removed'],
      [cancelled, 'cancelled'],
    ] as const) {
      const dead = await poll(
        () => parents.getJob(flow.id),
        (j) => j?.state === 'dead',
        `the parent hears of the ${how} child`,
      );
      expect(dead?.error?.message).toBe(`child fl-rm-kids/${flow.id}:0 was ${how}: the job was ${how}`);
    }
    expect(parentRuns()).toBe(0);
    expect(await kids.remove(`${removed.id}:0`)).toBe(false);
  });

  it('a child whose result does not fit the flow record fails the parent once, and runs once', async () => {
    const rt = await runtime();
    const parents = rt.queue('fl-big-parents');
    const kids = rt.queue<number>('fl-big-kids');
    const parentRuns = countRuns(parents);
    const kidRuns = new Map<number, number>();
    kids.process((job) => {
      kidRuns.set(job.data, (kidRuns.get(job.data) ?? 0) + 1);
      return 'x'.repeat(job.data);
    });
    const flow = await parents.addFlow({
      name: 'p',
      data: null,
      children: [
        { queue: 'fl-big-kids', name: 'small', data: 10 },
        { queue: 'fl-big-kids', name: 'big', data: 1_200_000 },
      ],
    });
    const dead = await poll(
      () => parents.getJob(flow.id),
      (j) => j?.state === 'dead',
      'the parent fails',
      20_000,
    );
    expect(dead?.error?.message).toMatch(
      new RegExp(`^child fl-big-kids/${flow.id}:1 completed, but its result could not be kept: `),
    );
    await new Promise((r) => setTimeout(r, 1_000));
    expect(parentRuns()).toBe(0);
    expect([...kidRuns].sort()).toEqual([
      [10, 1],
      [1_200_000, 1],
    ]);
    await expect(
      parents.addFlow({
        name: 'huge',
        data: 'y'.repeat(1_100_000),
        children: [{ queue: 'fl-big-kids', name: 'small', data: 1 }],
      }),
    ).rejects.toThrow(ValidationError);
  });

  it('ignoreChildFailure runs the parent anyway; the dead child is left out of its results', async () => {
    const rt = await runtime();
    const parents = rt.queue('fl-ignore-parents');
    const kids = rt.queue<number>('fl-ignore-kids', { maxAttempts: 1 });
    const results = deferred<unknown>();
    parents.process(async (job) => results.resolve(await job.childrenResults()));
    kids.process(async (job) => {
      if (job.data === 2) throw new Error('boom');
      return job.data * 10;
    });
    const flow = await parents.addFlow({
      name: 'report',
      data: null,
      opts: { ignoreChildFailure: true },
      children: [1, 2, 3].map((n) => ({ queue: 'fl-ignore-kids', name: 'n', data: n })),
    });
    expect(await results.promise).toEqual({
      [`fl-ignore-kids/${flow.id}:0`]: 10,
      [`fl-ignore-kids/${flow.id}:2`]: 30,
    });
  });

  it('two workers completing the last two children at once release the parent exactly once', async () => {
    const [a, b] = [await runtime('worker-a'), await runtime('worker-b')];
    const flows = 5;
    const started = new Map<number, number>();
    const go = Array.from({ length: flows }, () => deferred());
    // Each child holds until its sibling in the other runtime has started: both finish together.
    const child = async (job: { data: number }) => {
      const n = (started.get(job.data) ?? 0) + 1;
      started.set(job.data, n);
      if (n === 2) go[job.data]!.resolve();
      await go[job.data]!.promise;
      return job.data;
    };
    a.queue<number>('fl-race-a', { concurrency: flows }).process(child);
    b.queue<number>('fl-race-b', { concurrency: flows }).process(child);
    const runs = new Map<string, number>();
    for (const rt of [a, b])
      rt.queue('fl-race-parents', { concurrency: flows }).process(async (job) => {
        runs.set(job.id, (runs.get(job.id) ?? 0) + 1);
        return Object.keys(await job.childrenResults()).length;
      });
    const added = await Promise.all(
      Array.from({ length: flows }, (_, i) =>
        a.queue('fl-race-parents').addFlow({
          name: 'pair',
          data: i,
          children: [
            { queue: 'fl-race-a', name: 'half', data: i },
            { queue: 'fl-race-b', name: 'half', data: i },
          ],
        }),
      ),
    );
    // The children settle after their parent was added: once they are all completed, every add is done.
    await settled(a, 'fl-race-a', flows);
    await settled(b, 'fl-race-b', flows);
    await settled(a, 'fl-race-parents', flows);
    expect([...runs.values()]).toEqual(Array.from({ length: flows }, () => 1));
    for (const { id } of added) expect((await a.queue('fl-race-parents').getJob(id))?.result).toBe(2);
  });

  it('adding the same flow again stores nothing twice', async () => {
    const rt = await runtime();
    const parents = rt.queue('fl-again-parents');
    const kids = rt.queue<number>('fl-again-kids');
    const flow = {
      name: 'once',
      data: null,
      opts: { jobId: 'flow-1' },
      children: [1, 2].map((n) => ({ queue: 'fl-again-kids', name: 'n', data: n })),
    };
    const first = await parents.addFlow(flow);
    const again = await parents.addFlow(flow);
    expect(first).toEqual({ id: 'flow-1', children: again.children });
    expect(again.duplicate).toBe(true);
    expect((await kids.counts()).waiting).toBe(2);
    let runs = 0;
    parents.process(async () => ++runs);
    kids.process(async (job) => job.data);
    await settled(rt, 'fl-again-kids', 2);
    await settled(rt, 'fl-again-parents', 1);
    expect(runs).toBe(1);
  });

  it('a child recorded again after a crash (its message came back) adds the parent once', async () => {
    const rt = await runtime();
    const parents = rt.queue('fl-crash-parents');
    const flow = await parents.addFlow({
      name: 'p',
      data: null,
      children: [{ queue: 'fl-crash-kids', name: 'c', data: 1 }],
    });
    // Two workers' flow steps for the same child: the first "crashed" after its steps, before the ack.
    const steps = () =>
      new Flows({
        queue: 'fl-crash-kids',
        transport: rt.transport,
        logger: testLogger,
        add: (queue, jobs) => rt.queue(queue).addStored(jobs),
        onDead: () => undefined,
      });
    const key = flowKey('fl-crash-parents', flow.id);
    const child = `fl-crash-kids/${flow.children[0]!.id}`;
    await steps().childSettled(key, child, { result: 'first' });
    await steps().childSettled(key, child, { result: 'second' });
    expect(await parents.counts()).toMatchObject({ waiting: 1, active: 0 });
    const runs: unknown[] = [];
    parents.process(async (job) => runs.push(await job.childrenResults()));
    await settled(rt, 'fl-crash-parents', 1);
    expect(runs).toEqual([{ [child]: 'first' }]);
  });

  it('a settle hook runs before the outcome is stored; one that fails hands the job back', async () => {
    const rt = await runtime();
    const t = rt.transport as QueueTransport;
    const options = { ackWaitMs: 30_000, dedupWindowMs: 60_000, keepFinished: 100 };
    const store = await t.queueStore('fl-hook', options);
    const leases: JobLease[] = [];
    const worker = store.work({ concurrency: 2 }, { take: (l) => void leases.push(l) });
    await worker.ready;
    const [a, b] = [newJob('a', null, undefined), newJob('b', null, undefined)];
    await store.add([a, b]);
    await until(() => leases.length === 2, 'both jobs held');
    const byId = (id: string) => leases.find((l) => l.job.id === id)!;
    const hook = deferred();
    byId(a.id).complete('ok', () => hook.promise);
    byId(b.id).complete('no', () => Promise.reject(new Error('flow record not stored')));
    expect((await store.getJob(a.id))?.state).toBe('active');
    hook.resolve();
    expect(
      await poll(
        () => store.getJob(a.id),
        (j) => j?.state === 'completed',
        'a completed',
      ),
    ).toMatchObject({
      result: 'ok',
    });
    await until(() => leases.length === 3, 'b handed back');
    expect(leases[2]!.job).toMatchObject({ id: b.id, attemptsMade: 0 });
    leases[2]!.release();
    await worker.stop();
    await store.close();
  });

  it('refuses a flow without children or with data that is not JSON', async () => {
    const rt = await runtime();
    const q = rt.queue('fl-bad');
    await expect(q.addFlow({ name: 'p', data: null, children: [] })).rejects.toBeInstanceOf(ValidationError);
    const child = { queue: 'fl-bad', name: 'c', data: 1n };
    await expect(q.addFlow({ name: 'p', data: null, children: [child] })).rejects.toBeInstanceOf(
      ValidationError,
    );
  });

  /** A flow record of `children` under `parents/<id>`, stored. */
  async function storedFlow(store: FlowStore, id: string, children: string[]) {
    const parent = { id, dedup: true, name: 'p', data: null, priority: 'normal' as const, delayMs: 0 };
    const rec: FlowRecord = {
      v: 1,
      queue: 'parents',
      parent: { ...parent, maxAttempts: undefined, backoffMs: undefined },
      ignoreChildFailure: false,
      children,
      pending: children,
      results: {},
      failed: {},
    };
    const key = flowKey('parents', id);
    await store.create(key, rec);
    return key;
  }

  it('records ten children settling at once in ten processes: every result kept, released by exactly one', async () => {
    const rt = await runtime();
    // One store per child: each stands for a process of its own, so only compare-and-set orders them.
    const stores = Array.from({ length: 10 }, () => new FlowStore(rt.transport));
    const children = stores.map((_, i) => `kids/c${i}`);
    const key = await storedFlow(stores[0]!, 'p', children);
    const after = await Promise.all(children.map((ch, i) => stores[i]!.settle(key, ch, { result: i })));
    expect(after.filter((r) => r && isReleased(r))).toHaveLength(1);
    const results = Object.fromEntries(children.map((ch, i) => [ch, i]));
    expect((await stores[0]!.get(key))?.results).toEqual(results);
    // A child recorded again (its message came back after a crash) changes nothing.
    expect((await stores[1]!.settle(key, 'kids/c3', { result: 'again' }))?.results['kids/c3']).toBe(3);
    await stores[0]!.remove(key);
    expect(await stores[0]!.get(key)).toBeUndefined();
  });

  it('children of one flow settling at once in one process share writes and all count', async () => {
    const store = new FlowStore((await runtime()).transport);
    const children = Array.from({ length: 10 }, (_, i) => `kids/c${i}`);
    const key = await storedFlow(store, 'q', children);
    const after = await Promise.all(
      children.map((ch, i) => store.settle(key, ch, { error: { name: 'E', message: `${i}` } })),
    );
    expect(after.at(-1)?.pending).toEqual([]);
    expect(Object.keys((await store.get(key))?.failed ?? {})).toEqual(children);
  });
});
