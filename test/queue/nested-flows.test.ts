import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/errors.js';
import { MAX_FLOW_DEPTH, type FlowChild } from '../../src/queue/flow-types.js';
import type { Queue } from '../../src/queue/queue.js';
import { useRuntimes } from '../support/runtime.js';
import { transportCases } from '../support/transports.js';
import { poll } from '../support/wait.js';

/** Processes `queue` with a handler that only counts its runs. @returns the count so far */
function countRuns(queue: Queue): () => number {
  let runs = 0;
  queue.process(async () => void runs++);
  return () => runs;
}

describe.each(transportCases)('nested job flows on $name', (c) => {
  const { runtime } = useRuntimes(c);

  it('a child with children of its own waits for them, runs with their results, then releases its parent', async () => {
    const rt = await runtime();
    const top = rt.queue('nf-top');
    const mid = rt.queue('nf-mid');
    const leaves = rt.queue<number>('nf-leaves');
    const order: string[] = [];
    const flow = await top.addFlow({
      name: 'report',
      data: null,
      children: [
        { queue: 'nf-leaves', name: 'alone', data: 1 },
        {
          queue: 'nf-mid',
          name: 'section',
          data: 'intro',
          children: [
            { queue: 'nf-leaves', name: 'page', data: 2 },
            { queue: 'nf-leaves', name: 'page', data: 3 },
          ],
        },
      ],
    });
    const midId = `${flow.id}:1`;
    expect(flow.children).toEqual([
      { queue: 'nf-leaves', id: `${flow.id}:0` },
      {
        queue: 'nf-mid',
        id: midId,
        children: [
          { queue: 'nf-leaves', id: `${midId}:0` },
          { queue: 'nf-leaves', id: `${midId}:1` },
        ],
      },
    ]);
    expect(await mid.getJob(midId)).toMatchObject({
      state: 'waiting-children',
      children: { total: 2, pending: 2, failed: 0 },
      parent: { queue: 'nf-top', id: flow.id },
    });
    expect(await top.getJob(flow.id)).toMatchObject({ state: 'waiting-children' });

    mid.process(async (job) => {
      order.push('mid');
      return { pages: Object.values(await job.childrenResults()) };
    });
    top.process(async (job) => {
      order.push('top');
      return job.childrenResults();
    });
    leaves.process(async (job) => {
      order.push(`leaf ${job.data}`);
      return job.data * 10;
    });
    const done = await poll(
      () => top.getJob(flow.id),
      (j) => j?.state === 'completed',
      'the top parent completed',
    );
    expect(done?.result).toEqual({
      [`nf-leaves/${flow.id}:0`]: 10,
      [`nf-mid/${midId}`]: { pages: [20, 30] },
    });
    expect(order.indexOf('mid')).toBeGreaterThan(Math.max(order.indexOf('leaf 2'), order.indexOf('leaf 3')));
    expect(order.at(-1)).toBe('top');
    expect(order.filter((o) => o === 'mid' || o === 'top')).toEqual(['mid', 'top']);
  });

  it('a dead grandchild fails its parent and, through it, the top parent; neither runs', async () => {
    const rt = await runtime();
    const top = rt.queue('nf-dead-top');
    const mid = rt.queue('nf-dead-mid');
    const leaves = rt.queue<number>('nf-dead-leaves', { maxAttempts: 1 });
    const [topRuns, midRuns] = [countRuns(top), countRuns(mid)];
    leaves.process(async (job) => {
      if (job.data === 2) throw new Error('boom');
      return job.data;
    });
    const flow = await top.addFlow({
      name: 'report',
      data: null,
      children: [
        {
          queue: 'nf-dead-mid',
          name: 'section',
          data: null,
          children: [1, 2].map((data) => ({ queue: 'nf-dead-leaves', name: 'page', data })),
        },
      ],
    });
    const midId = `${flow.id}:0`;
    const dead = await poll(
      () => top.getJob(flow.id),
      (j) => j?.state === 'dead',
      'the top parent dead',
    );
    expect(dead?.error?.message).toBe(
      `child nf-dead-mid/${midId} died: child nf-dead-leaves/${midId}:1 died: boom`,
    );
    expect(await mid.getJob(midId)).toMatchObject({ state: 'dead', error: { name: 'ChildFailedError' } });
    expect([topRuns(), midRuns()]).toEqual([0, 0]);
  });

  it('ignoreChildFailure on a nested child runs it without the dead grandchild, and its parent after it', async () => {
    const rt = await runtime();
    const top = rt.queue('nf-ign-top');
    const mid = rt.queue('nf-ign-mid');
    const leaves = rt.queue<number>('nf-ign-leaves', { maxAttempts: 1 });
    leaves.process(async (job) => {
      if (job.data === 2) throw new Error('boom');
      return job.data;
    });
    mid.process(async (job) => Object.keys(await job.childrenResults()).length);
    top.process(async (job) => job.childrenResults());
    const flow = await top.addFlow({
      name: 'report',
      data: null,
      children: [
        {
          queue: 'nf-ign-mid',
          name: 'section',
          data: null,
          opts: { ignoreChildFailure: true },
          children: [1, 2].map((data) => ({ queue: 'nf-ign-leaves', name: 'page', data })),
        },
      ],
    });
    const done = await poll(
      () => top.getJob(flow.id),
      (j) => j?.state === 'completed',
      'the top parent completed',
    );
    expect(done?.result).toEqual({ [`nf-ign-mid/${flow.id}:0`]: 1 });
  });

  it('cancelling a nested parent while it waits fails the top parent; adding the same nested flow again stores nothing twice', async () => {
    const rt = await runtime();
    const top = rt.queue('nf-cancel-top');
    const mid = rt.queue('nf-cancel-mid');
    const leaves = rt.queue<number>('nf-cancel-leaves');
    const flow = {
      name: 'report',
      data: null,
      opts: { jobId: 'nested-once' },
      children: [
        {
          queue: 'nf-cancel-mid',
          name: 'section',
          data: null,
          children: [1, 2].map((data) => ({ queue: 'nf-cancel-leaves', name: 'page', data })),
        },
      ],
    };
    await top.addFlow(flow);
    const again = await top.addFlow(flow);
    expect(again.duplicate).toBe(true);
    expect((await leaves.counts()).waiting).toBe(2);

    const topRuns = countRuns(top);
    expect(await mid.cancel('nested-once:0')).toBe(true);
    expect(await mid.getJob('nested-once:0')).toBeUndefined();
    const dead = await poll(
      () => top.getJob('nested-once'),
      (j) => j?.state === 'dead',
      'the top parent dead',
    );
    expect(dead?.error?.message).toBe(
      'child nf-cancel-mid/nested-once:0 was cancelled: the job was cancelled',
    );
    expect(topRuns()).toBe(0);
  });

  it(`refuses nesting deeper than ${MAX_FLOW_DEPTH} levels, a nested child without children, and a job named twice`, async () => {
    const rt = await runtime();
    const q = rt.queue('nf-refused');
    const chain = (depth: number): FlowChild => ({
      queue: 'nf-refused-kids',
      name: `level ${depth}`,
      data: depth,
      ...(depth < MAX_FLOW_DEPTH + 1 && { children: [chain(depth + 1)] }),
    });
    await expect(q.addFlow({ name: 'deep', data: null, children: [chain(1)] })).rejects.toThrow(
      /more than 8 levels deep/,
    );
    await expect(
      q.addFlow({ name: 'empty', data: null, children: [{ queue: 'k', name: 'n', data: 1, children: [] }] }),
    ).rejects.toBeInstanceOf(ValidationError);
    await expect(
      q.addFlow({
        name: 'twice',
        data: null,
        children: [
          { queue: 'k', name: 'a', data: 1, opts: { jobId: 'x' } },
          {
            queue: 'm',
            name: 'b',
            data: 2,
            children: [{ queue: 'k', name: 'c', data: 3, opts: { jobId: 'x' } }],
          },
        ],
      }),
    ).rejects.toThrow(/names k\/x twice/);
    expect((await q.counts()).waiting).toBe(0);
    // The deepest nesting allowed is stored.
    const ok = (depth: number): FlowChild => ({
      queue: 'nf-refused-kids',
      name: `level ${depth}`,
      data: depth,
      ...(depth < MAX_FLOW_DEPTH && { children: [ok(depth + 1)] }),
    });
    await expect(q.addFlow({ name: 'deepest', data: null, children: [ok(1)] })).resolves.toMatchObject({});
  });
});
