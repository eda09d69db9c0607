import { describe, expect, it } from 'vitest';
import { createActor, fromPromise } from 'xstate';
import {
  jobSchedulerMachine,
  type FireInput,
  type FireOutcome,
  type PlanInput,
  type PlanOutput,
} from '../../src/machines/job-scheduler.machine.js';
import { TestClock } from '../support/clock.js';
import { until } from '../support/wait.js';

/** A scheduler whose plan says "every 1000 ms after `last`" and whose fire records the slot. */
function harness(opts: { failFires?: number; slots?: number; maxWaitMs?: number } = {}) {
  const clock = new TestClock(10_500);
  const fired: number[] = [];
  let last = 10_000;
  let failFires = opts.failFires ?? 0;
  let plans = 0;
  const logic = jobSchedulerMachine.provide({
    actors: {
      plan: fromPromise<PlanOutput, PlanInput>(async () => {
        plans++;
        const next = last + 1_000;
        const stop = opts.slots !== undefined && fired.length >= opts.slots;
        return { due: stop ? undefined : next, now: clock.now() };
      }),
      fire: fromPromise<FireOutcome, FireInput>(async ({ input }) => {
        if (failFires-- > 0) throw new Error('broker away');
        fired.push(input.slot);
        last = input.slot;
        return 'added';
      }),
    },
  });
  const actor = createActor(logic, {
    clock,
    input: { key: 'q.tick', retryMs: 100, maxRetryMs: 400, maxWaitMs: opts.maxWaitMs ?? 60_000 },
  }).start();
  type State = Parameters<ReturnType<typeof actor.getSnapshot>['matches']>[0];
  const settled = (state: State): Promise<void> =>
    until(() => actor.getSnapshot().matches(state), `the scheduler ${state}`);
  return { clock, actor, fired, settled, plans: () => plans };
}

describe('job scheduler machine', () => {
  it('waits on its clock until each slot, fires it, and plans the next', async () => {
    const h = harness();
    await h.settled('waiting');
    expect(h.actor.getSnapshot().context).toMatchObject({ due: 11_000, plannedAt: 10_500 });
    h.clock.advance(499);
    expect(h.fired).toEqual([]);
    h.clock.advance(1);
    await until(() => h.fired.length === 1, 'the first slot');
    await h.settled('waiting');
    h.clock.advance(1_000);
    await until(() => h.fired.length === 2, 'the second slot');
    expect(h.fired).toEqual([11_000, 12_000]);
    expect(h.actor.getSnapshot().context.last).toBe(12_000);
    h.actor.stop();
  });

  it('after a failed fire waits a doubling retry delay and plans again, the slot still owed', async () => {
    const h = harness({ failFires: 3 });
    await h.settled('waiting');
    h.clock.advance(500);
    await h.settled('retrying');
    expect(h.actor.getSnapshot().context).toMatchObject({
      failures: 1,
      lastError: { message: 'broker away' },
    });
    for (const [failures, wait] of [
      [1, 100],
      [2, 200],
      [3, 400],
    ] as const) {
      expect(h.actor.getSnapshot().context.failures).toBe(failures);
      h.clock.advance(wait - 1);
      expect(h.actor.getSnapshot().matches('retrying')).toBe(true);
      h.clock.advance(1);
      await h.settled('waiting');
      expect(h.actor.getSnapshot().context.due).toBe(11_000); // the owed slot, due at once
      h.clock.advance(0);
      if (failures < 3) await h.settled('retrying');
    }
    await until(() => h.fired.length === 1, 'the owed slot');
    expect(h.fired).toEqual([11_000]);
    expect(h.actor.getSnapshot().context.failures).toBe(0);
    h.actor.stop();
  });

  it('idles when no slot is ahead, and plans again on schedule.changed', async () => {
    const h = harness({ slots: 0 });
    await h.settled('idle');
    const before = h.plans();
    h.actor.send({ type: 'schedule.changed' });
    await until(() => h.plans() === before + 1, 'a second plan');
    await h.settled('idle');
    h.actor.stop();
  });

  it('waits for a slot further ahead than its longest timer in hops, never firing early', async () => {
    const h = harness({ maxWaitMs: 200 }); // the slot is 500 ms ahead: hops of 200, 200, then 100
    await h.settled('waiting');
    h.clock.advance(200);
    expect(h.actor.getSnapshot().matches('waiting')).toBe(true);
    expect(h.actor.getSnapshot().context.plannedAt).toBe(10_700);
    h.clock.advance(299);
    expect(h.fired).toEqual([]);
    h.clock.advance(1);
    await until(() => h.fired.length === 1, 'the slot');
    expect(h.fired).toEqual([11_000]);
    h.actor.stop();
  });

  it('leaves no timer behind once stopped', async () => {
    const h = harness();
    await h.settled('waiting');
    expect(h.clock.pending).toBe(1);
    h.actor.stop();
    expect(h.clock.pending).toBe(0);
  });
});
