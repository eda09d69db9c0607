import { describe, expect, it } from 'vitest';
import { assign, createActor } from 'xstate';
import { fromTimer } from '../../src/actors/timer.actor.js';
import {
  retryJobMachine,
  stalledJobSnapshot,
  timedRetryJobMachine,
  type RetryJobInput,
  type RetryJobSnapshot,
} from '../../src/machines/retry-job.machine.js';
import { TestClock } from '../support/clock.js';

/**
 * A job actor as a worker hosts it, with the worker replaced by the test: `tries` records each try
 * the machine asks for, `aborted` each abort, `failures` each failed try it reports for a retry;
 * `done`/`fail` answer a try.
 */
function host(clock = new TestClock(), timed = false) {
  const tries: number[] = [];
  const aborted: number[] = [];
  const failures: number[] = [];
  const machine = (timed ? timedRetryJobMachine : retryJobMachine).provide({
    actions: {
      startTry: ({ context }) => void tries.push(context.attempt),
      abortTry: ({ context }) => void aborted.push(context.attempt),
      reportFailed: ({ context }) => void failures.push(context.attempt),
    },
    actors: { backoff: fromTimer(clock) },
  });
  return { clock, tries, aborted, failures, machine };
}

const INPUT: RetryJobInput = {
  id: 'j1',
  attemptsMade: 0,
  maxAttempts: 3,
  timeoutMs: 0,
  backoffMs: [100, 200],
};

function start(input: Partial<RetryJobInput> = {}, h = host(new TestClock(), (input.timeoutMs ?? 0) > 0)) {
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
  it('created by the worker that took the job, starts its next try at once', () => {
    const t = start({ attemptsMade: 1 });
    expect(t.state()).toBe('active');
    expect(t.tries).toEqual([2]);
    expect(t.ctx().attempt).toBe(2);
  });

  it('counts each try once through failures, and outputs the result of the one that completed', () => {
    const t = start({ backoffMs: [10, 10] });
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
    const t = start({ backoffMs: [100] });
    t.fail();
    const stored = t.actor.getPersistedSnapshot();
    t.actor.send({ type: 'job.park' });
    expect(t.actor.getSnapshot()).toMatchObject({ status: 'done', value: 'parked' });
    expect(t.clock.pending).toBe(0);
    const resumed = createActor(t.machine, { clock: t.clock, input: INPUT, snapshot: stored }).start();
    expect(resumed.getSnapshot().value).toBe('failed');
    t.clock.advance(100);
    expect(resumed.getSnapshot().value).toBe('active');
    expect(resumed.getSnapshot().context.attempt).toBe(2);
  });

  it('outputs nothing when it ends dead', () => {
    const t = start({ maxAttempts: 1 });
    t.fail();
    expect(t.actor.getSnapshot()).toMatchObject({ status: 'done', value: 'dead', output: undefined });
  });

  it('restored at active before its try when stalled, is dead on job.stalled with those tries counted, never run', () => {
    const h = host();
    const input = { ...INPUT, attemptsMade: 1 };
    const snapshot = stalledJobSnapshot(h.machine, input);
    const actor = createActor(h.machine, { clock: h.clock, input, snapshot }).start();
    actor.send({ type: 'job.stalled', deliveries: 7 });
    expect(actor.getSnapshot()).toMatchObject({ status: 'done', value: 'dead', output: undefined });
    expect(h.tries).toEqual([]);
    expect(actor.getSnapshot().context).toMatchObject({
      attempt: 8,
      reason: 'timeout',
      error: { name: 'StalledError' },
    });
  });

  it('completes with the try result as its output', () => {
    const t = start();
    t.done({ sent: true });
    expect(t.state()).toBe('completed');
    expect(t.ctx()).toMatchObject({ attempt: 1, error: undefined });
    expect(t.actor.getSnapshot()).toMatchObject({ status: 'done', output: { sent: true } });
    expect(t.failures).toEqual([]);
  });

  it('fails with attempts left, backs off for exactly the planned delay, then runs the next try', () => {
    const t = start();
    t.fail('smtp down');
    expect(t.state()).toBe('failed');
    expect(t.failures).toEqual([1]);
    expect(t.ctx()).toMatchObject({
      attempt: 1,
      retryDelayMs: 100,
      reason: 'handler',
      error: { name: 'Error', message: 'smtp down' },
    });
    t.clock.advance(99);
    expect(t.state()).toBe('failed');
    t.clock.advance(1);
    expect(t.state()).toBe('active');
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
    expect(t.tries).toEqual([2]);
    t.fail();
    expect(t.state()).toBe('dead');
    expect(t.ctx()).toMatchObject({ attempt: 2, reason: 'handler' });
    expect(t.actor.getSnapshot().status).toBe('done');
    expect(t.failures).toEqual([]);
  });

  it('times out: the try fails with a TimeoutError and is aborted', () => {
    const t = start({ timeoutMs: 1_000 });
    expect(t.state()).toBe('active');
    t.clock.advance(999);
    expect(t.state()).toBe('active');
    t.clock.advance(1);
    expect(t.state()).toBe('failed');
    expect(t.ctx()).toMatchObject({ reason: 'timeout', error: { name: 'TimeoutError' } });
    expect(t.aborted).toEqual([1]);
  });

  it('is dead when the last try times out', () => {
    const t = start({ timeoutMs: 50, maxAttempts: 1 });
    t.clock.advance(50);
    expect(t.state()).toBe('dead');
    expect(t.ctx().reason).toBe('timeout');
  });

  it('arms no timer for a job without a timeout, and one per try with', () => {
    expect(start().clock.pending).toBe(0);
    expect(start({ timeoutMs: 1_000 }).clock.pending).toBe(1);
  });

  it('hands an active job back on job.release: released, the try not counted, aborted', () => {
    const t = start();
    t.actor.send({ type: 'job.release' });
    expect(t.actor.getSnapshot()).toMatchObject({ status: 'done', value: 'released' });
    expect(t.ctx().attempt).toBe(0);
    expect(t.aborted).toEqual([1]);
  });

  it('ignores a late try result after a timeout', () => {
    const t = start({ timeoutMs: 10 });
    t.clock.advance(10);
    t.done('late');
    expect(t.state()).toBe('failed');
    expect(t.actor.getSnapshot().output).toBeUndefined();
  });

  it('backs off as the host plans when the job has no backoff of its own', () => {
    const h = host();
    const machine = h.machine.provide({ actions: { planRetry: assign({ retryDelayMs: 42 }) } });
    const t = start({ backoffMs: undefined }, { ...h, machine });
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
