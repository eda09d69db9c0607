import { describe, expect, it } from 'vitest';
import { deadLetterGroup, MAX_DEAD_LETTER_RESULTS_BYTES } from '../../src/queue/dead-letter.js';
import type { ChildrenResults } from '../../src/queue/flow-types.js';
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
    const died = deferred<void>();
    parents.on('dead', () => died.resolve());
    const flow = await parents.addFlow({
      name: 'book',
      data: null,
      children: [
        { queue: 'fr-kids', name: 'sq', data: 3 },
        { queue: 'fr-kids', name: 'sq', data: 4 },
      ],
    });
    await died.promise;
    healthy = true;
    await redriveParent(rt, 'fr-parents', flow.id);

    const results = { [`fr-kids/${flow.id}:0`]: { square: 9 }, [`fr-kids/${flow.id}:1`]: { square: 16 } };
    expect(seen).toEqual([results, results]);
    expect((await parents.getJob(flow.id))?.result).toBe('booked');
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
    const flow = await parents.addFlow({
      name: 'report',
      data: null,
      children: [
        { queue: 'fr-failed-kids', name: 'ok', data: 1 },
        { queue: 'fr-failed-kids', name: 'bad', data: 2 },
      ],
    });
    await poll(
      () => parents.getJob(flow.id),
      (j) => j?.state === 'dead',
      'the parent dead',
    );
    await redriveParent(rt, 'fr-failed-parents', flow.id);
    expect(await ran.promise).toEqual({ [`fr-failed-kids/${flow.id}:0`]: 10 });
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
    const flow = await parents.addFlow({
      name: 'big',
      data: null,
      children: [
        { queue: 'fr-big-kids', name: 'a', data: 1 },
        { queue: 'fr-big-kids', name: 'b', data: 2 },
      ],
    });
    await poll(
      () => parents.getJob(flow.id),
      (j) => j?.state === 'dead',
      'the parent dead',
    );
    const [letter] = await rt.deadLetters.list({ group: deadLetterGroup('fr-big-parents') });
    expect(letter?.event.jobchildren).toBeUndefined();
    expect(letter?.truncated).toBeUndefined();
    healthy = true;
    await redriveParent(rt, 'fr-big-parents', flow.id);
    expect(seen).toEqual([2, 0]);
  });
});
