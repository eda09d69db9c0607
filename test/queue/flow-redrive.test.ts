import { describe, expect, it } from 'vitest';
import { deadLetterGroup, MAX_DEAD_LETTER_RESULTS_BYTES } from '../../src/queue/dead-letter.js';
import type { ChildrenResults } from '../../src/queue/flow-types.js';
import type { Queue } from '../../src/queue/queue.js';
import { useRuntimes, type TestRuntime } from '../support/runtime.js';
import { transportCases } from '../support/transports.js';
import { deferred, poll } from '../support/wait.js';

describe.each(transportCases)('job flows on $name: redriving a dead parent', (c) => {
  const { runtime } = useRuntimes(c);

  /** Waits for the one dead letter of `queue`, redrives it, and waits for the parent to complete. */
  async function redriveParent(rt: TestRuntime, queue: string, id: string): Promise<void> {
    const group = deadLetterGroup(queue);
    await poll(
      () => rt.deadLetters.list({ group }),
      (d) => d.length === 1,
      `${queue}'s dead letter`,
    );
    expect(await rt.deadLetters.redrive({ group })).toEqual({ redriven: 1 });
    await poll(
      () => rt.queue(queue).getJob(id),
      (j) => j?.state === 'completed',
      'the redriven parent completed',
    );
  }

  /** Adds a flow of `parents` with one child in `kids` per item of `data`, and waits for its parent to die. @returns the parent's id */
  async function deadParent(parents: Queue, kids: string, data: readonly number[]): Promise<string> {
    const flow = await parents.addFlow({
      name: 'parent',
      data: null,
      children: data.map((d) => ({ queue: kids, name: 'child', data: d })),
    });
    await poll(
      () => parents.getJob(flow.id),
      (j) => j?.state === 'dead',
      'the parent dead',
    );
    return flow.id;
  }

  it('a parent whose own handler died runs again with its children’s results', async () => {
    const rt = await runtime();
    const parents = rt.queue('fr-parents', { maxAttempts: 1 });
    const kids = rt.queue<number>('fr-kids');
    kids.process(async (job) => ({ square: job.data * job.data }));
    const seen: ChildrenResults[] = [];
    let healthy = false;
    parents.process(async (job) => {
      seen.push(await job.childrenResults());
      if (!healthy) throw new Error('ledger down');
      return 'booked';
    });
    const id = await deadParent(parents, 'fr-kids', [3, 4]);
    healthy = true;
    await redriveParent(rt, 'fr-parents', id);

    const results = { [`fr-kids/${id}:0`]: { square: 9 }, [`fr-kids/${id}:1`]: { square: 16 } };
    expect(seen).toEqual([results, results]);
    expect((await parents.getJob(id))?.result).toBe('booked');
  });

  it('a parent failed by a dead child runs, once redriven, with the results of the children that completed', async () => {
    const rt = await runtime();
    const parents = rt.queue('fr-failed-parents');
    const kids = rt.queue<number>('fr-failed-kids', { maxAttempts: 1 });
    kids.process(async (job) => {
      if (job.data === 2) throw new Error('boom');
      return job.data * 10;
    });
    const ran = deferred<ChildrenResults>();
    parents.process(async (job) => {
      ran.resolve(await job.childrenResults());
      return 'partial';
    });
    const id = await deadParent(parents, 'fr-failed-kids', [1, 2]);
    await redriveParent(rt, 'fr-failed-parents', id);
    expect(await ran.promise).toEqual({ [`fr-failed-kids/${id}:0`]: 10 });
  });

  it(`a parent whose results are over ${MAX_DEAD_LETTER_RESULTS_BYTES} bytes is redriven without them`, async () => {
    const rt = await runtime();
    const parents = rt.queue('fr-big-parents', { maxAttempts: 1 });
    const kids = rt.queue<number>('fr-big-kids');
    kids.process(async () => 'x'.repeat(MAX_DEAD_LETTER_RESULTS_BYTES / 2 + 1));
    const seen: number[] = [];
    let healthy = false;
    parents.process(async (job) => {
      seen.push(Object.keys(await job.childrenResults()).length);
      if (!healthy) throw new Error('down');
      return 'ok';
    });
    const id = await deadParent(parents, 'fr-big-kids', [1, 2]);
    const [letter] = await rt.deadLetters.list({ group: deadLetterGroup('fr-big-parents') });
    expect(letter?.event.jobchildren).toBeUndefined();
    expect(letter?.truncated).toBeUndefined();
    healthy = true;
    await redriveParent(rt, 'fr-big-parents', id);
    expect(seen).toEqual([2, 0]);
  });
});
