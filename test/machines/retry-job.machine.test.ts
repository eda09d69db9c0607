import { describe, expect, it } from 'vitest';
import { assign, createActor } from 'xstate';
import { fromTimer } from '../../src/actors/timer.actor.js';
import {
  retryJobMachine,
  type JobOutcome,
  type RetryJobInput,
  type RetryJobSnapshot,
} from '../../src/machines/retry-job.machine.js';
import { TestClock } from '../support/clock.js';

/**
 * A job actor as a worker hosts it, with the worker replaced by the test: `tries` records each try
 * the machine asks for, `aborted` each abort, `reports` each outcome; `done`/`fail` answer a try.
 */
function host(clock = new TestClock()) {
  const tries: number[] = [];
  const aborted: number[] = [];
  const reports: JobOutcome[] = [];
  const machine = retryJobMachine.provide({
    actions: {
      startTry: ({ context }) => void tries.push(context.attempt),
      abortTry: ({ context }) => void aborted.push(context.attempt),
      report: (_, params) => void reports.push(params.outcome),
    },
    actors: { backoff: fromTimer(clock) },
  });
  return { clock, tries, aborted, reports, machine };
}

const INPUT: RetryJobInput = {
  id: 'j1',
  attemptsMade: 0,
  maxAttempts: 3,
  timeoutMs: 0,
  backoffMs: [100, 200],
};

function start(input: Partial<RetryJobInput> = {}, h = host()) {
  const actor = createActor(h.machine, { clock: h.clock, input: { ...INPUT, ...input } }).start();
  return {
    ...h,
    actor,
    state: () => actor.getSnapshot().value,
    ctx: () => actor.getSnapshot().context,
    done: (output: unknown) => actor.send({ type: 'try.done', output }),
    fail: (message = 'boom') => actor.send({ type: 'try.failed', error: new Error(message) }),
  };
}

describe('retry-job machine', () => {
  it('waits, then asks for try 1 on job.start', () => {
    const t = start();
    expect(t.state()).toBe('waiting');
    t.actor.send({ type: 'job.start' });
    expect(t.state()).toEqual({ active: 'running' });
    expect(t.tries).toEqual([1]);
  });

  it('created held by a worker, starts its first try at once', () => {
    const t = start({ held: true, attemptsMade: 1 });
    expect(t.state()).toEqual({ active: 'running' });
    expect(t.tries).toEqual([2]);
  });

  it('created held, counts each try once through failures, and outputs the result of the one that completed', () => {
    const t = start({ held: true, backoffMs: [10, 10] });
    t.fail();
    t.clock.advance(10);
    t.fail();
    t.clock.advance(10);
    t.done('third');
    expect(t.tries).toEqual([1, 2, 3]);
    expect(t.ctx().attempt).toBe(3);
    expect(t.actor.getSnapshot()).toMatchObject({ status: 'done', value: 'completed', output: 'third' });
  });

  it('ends parked on job.park while backing off, its timer stopped; a snapshot taken before resumes', () => {
    const t = start({ held: true, backoffMs: [100] });
    t.fail();
    const stored = t.actor.getPersistedSnapshot();
    t.actor.send({ type: 'job.park' });
    expect(t.actor.getSnapshot()).toMatchObject({ status: 'done', value: 'parked' });
    expect(t.clock.pending).toBe(0);
    const resumed = createActor(t.machine, { clock: t.clock, input: INPUT, snapshot: stored }).start();
    expect(resumed.getSnapshot().value).toBe('failed');
    t.clock.advance(100);
    expect(resumed.getSnapshot().value).toEqual({ active: 'running' });
    expect(resumed.getSnapshot().context.attempt).toBe(2);
  });

  it('outputs nothing when it ends dead', () => {
    const t = start({ held: true, maxAttempts: 1 });
    t.fail();
    expect(t.actor.getSnapshot()).toMatchObject({ status: 'done', value: 'dead', output: undefined });
  });

  it('created held with stalled deliveries, is dead at once with those tries counted', () => {
    const t = start({ held: true, attemptsMade: 1, stalledDeliveries: 7 });
    expect(t.state()).toBe('dead');
    expect(t.tries).toEqual([]);
    expect(t.ctx()).toMatchObject({ attempt: 8, reason: 'timeout', error: { name: 'StalledError' } });
    expect(t.reports).toEqual(['dead']);
  });

  it('completes with the try result and reports it', () => {
    const t = start();
    t.actor.send({ type: 'job.start' });
    t.done({ sent: true });
    expect(t.state()).toBe('completed');
    expect(t.ctx()).toMatchObject({ attempt: 1, error: undefined });
    expect(t.actor.getSnapshot()).toMatchObject({ status: 'done', output: { sent: true } });
    expect(t.reports).toEqual(['completed']);
  });

  it('fails with attempts left, backs off for exactly the planned delay, then runs the next try', () => {
    const t = start();
    t.actor.send({ type: 'job.start' });
    t.fail('smtp down');
    expect(t.state()).toBe('failed');
    expect(t.reports).toEqual(['failed']);
    expect(t.ctx()).toMatchObject({
      attempt: 1,
      retryDelayMs: 100,
      reason: 'handler',
      error: { name: 'Error', message: 'smtp down' },
    });
    t.clock.advance(99);
    expect(t.state()).toBe('failed');
    t.clock.advance(1);
    expect(t.state()).toEqual({ active: 'running' });
    expect(t.tries).toEqual([1, 2]);
    t.fail();
    expect(t.ctx().retryDelayMs).toBe(200);
    t.clock.advance(199);
    expect(t.tries).toEqual([1, 2]);
    t.clock.advance(1);
    expect(t.tries).toEqual([1, 2, 3]);
  });

  it('is dead once the last attempt fails', () => {
    const t = start({ maxAttempts: 2, attemptsMade: 1 });
    t.actor.send({ type: 'job.start' });
    expect(t.tries).toEqual([2]);
    t.fail();
    expect(t.state()).toBe('dead');
    expect(t.ctx()).toMatchObject({ attempt: 2, reason: 'handler' });
    expect(t.actor.getSnapshot().status).toBe('done');
    expect(t.reports).toEqual(['dead']);
  });

  it('times out: the try fails with a TimeoutError and is aborted', () => {
    const t = start({ timeoutMs: 1_000 });
    t.actor.send({ type: 'job.start' });
    expect(t.state()).toEqual({ active: 'timed' });
    t.clock.advance(999);
    expect(t.state()).toEqual({ active: 'timed' });
    t.clock.advance(1);
    expect(t.state()).toBe('failed');
    expect(t.ctx()).toMatchObject({ reason: 'timeout', error: { name: 'TimeoutError' } });
    expect(t.aborted).toEqual([1]);
  });

  it('is dead when the last try times out', () => {
    const t = start({ timeoutMs: 50, maxAttempts: 1 });
    t.actor.send({ type: 'job.start' });
    t.clock.advance(50);
    expect(t.state()).toBe('dead');
    expect(t.ctx().reason).toBe('timeout');
  });

  it('arms no timer for a job without a timeout', () => {
    const t = start();
    t.actor.send({ type: 'job.start' });
    expect(t.clock.pending).toBe(0);
  });

  it('hands an active job back on job.release: released, the try not counted, aborted, reported', () => {
    const t = start();
    t.actor.send({ type: 'job.start' });
    t.actor.send({ type: 'job.release' });
    expect(t.state()).toBe('released');
    expect(t.ctx().attempt).toBe(0);
    expect(t.aborted).toEqual([1]);
    expect(t.reports).toEqual(['released']);
  });

  it('ignores a late try result after a timeout', () => {
    const t = start({ timeoutMs: 10 });
    t.actor.send({ type: 'job.start' });
    t.clock.advance(10);
    t.done('late');
    expect(t.state()).toBe('failed');
    expect(t.actor.getSnapshot().output).toBeUndefined();
  });

  it('backs off as the host plans when the job has no backoff of its own', () => {
    const h = host();
    const machine = h.machine.provide({ actions: { planRetry: assign({ retryDelayMs: 42 }) } });
    const t = start({ backoffMs: undefined }, { ...h, machine });
    t.actor.send({ type: 'job.start' });
    t.fail();
    expect(t.ctx().retryDelayMs).toBe(42);
    t.clock.advance(41);
    expect(t.tries).toEqual([1]);
    t.clock.advance(1);
    expect(t.tries).toEqual([1, 2]);
  });
});

describe('retry-job machine: persisted and resumed', () => {
  /** A job that failed its first try at t=1000 and was persisted as it began to back off. */
  function persistedFailure(): RetryJobSnapshot {
    const t = start({}, host(new TestClock(1_000)));
    t.actor.send({ type: 'job.start' });
    t.fail('first');
    const persisted = JSON.parse(JSON.stringify(t.actor.getPersistedSnapshot())) as RetryJobSnapshot;
    t.actor.stop();
    return persisted;
  }

  it('is plain JSON: context, state and the backoff timer with its due time', () => {
    const p = persistedFailure() as unknown as {
      value: string;
      context: { attempt: number };
      children: { backoff: { snapshot: { dueAt: number } } };
    };
    expect(p.value).toBe('failed');
    expect(p.context.attempt).toBe(1);
    expect(p.children.backoff.snapshot.dueAt).toBe(1_100);
  });

  it('resumed on another clock, waits only the rest of its backoff and keeps its attempts', () => {
    const persisted = persistedFailure();
    const h = host(new TestClock(1_060));
    const actor = createActor(h.machine, { clock: h.clock, input: INPUT, snapshot: persisted }).start();
    expect(actor.getSnapshot().value).toBe('failed');
    h.clock.advance(39);
    expect(h.tries).toEqual([]);
    h.clock.advance(1);
    expect(h.tries).toEqual([2]);
    actor.send({ type: 'try.done', output: 'ok' });
    expect(actor.getSnapshot().value).toBe('completed');
  });

  it('resumed after its due time, starts its next try at once (never early, never late)', () => {
    const persisted = persistedFailure();
    const h = host(new TestClock(5_000));
    createActor(h.machine, { clock: h.clock, input: INPUT, snapshot: persisted }).start();
    expect(h.tries).toEqual([]);
    h.clock.advance(0);
    expect(h.tries).toEqual([2]);
  });

  it('resumed when the store says it stalled, is dead with those tries counted', () => {
    const persisted = persistedFailure();
    const h = host(new TestClock(1_000));
    const actor = createActor(h.machine, { clock: h.clock, input: INPUT, snapshot: persisted }).start();
    actor.send({ type: 'job.stalled', deliveries: 6 });
    expect(actor.getSnapshot().value).toBe('dead');
    expect(actor.getSnapshot().context.attempt).toBe(7);
    expect(h.clock.pending).toBe(0);
  });
});

describe('retry-job machine: a job that stalls', () => {
  it('is dead when the store says it was taken too often without settling, counting those tries', () => {
    const actor = createActor(retryJobMachine, { input: { ...INPUT, attemptsMade: 1 } }).start();
    actor.send({ type: 'job.stalled', deliveries: 7 });
    const s = actor.getSnapshot();
    expect(s.value).toBe('dead');
    expect(s.status).toBe('done');
    expect(s.context).toMatchObject({ attempt: 8, reason: 'timeout', error: { name: 'StalledError' } });
  });
});
