import { describe, expect, it } from 'vitest';
import { createActor, fromPromise } from 'xstate';
import { retryJobMachine, type RetryJobInput } from '../../src/machines/retry-job.machine.js';
import { fixed, linear } from '../../src/retry/backoff.js';
import { deferred } from '../support/wait.js';
import { TestClock } from '../support/clock.js';

/** A job actor whose handler is driven by the test: each try gets its own deferred outcome. */
function start(input: Partial<RetryJobInput> = {}) {
  const clock = new TestClock();
  const tries: { outcome: ReturnType<typeof deferred<unknown>>; signal: AbortSignal; attempt: number }[] = [];
  const machine = retryJobMachine.provide({
    actors: {
      handler: fromPromise(({ input: i, signal }) => {
        const outcome = deferred<unknown>();
        tries.push({ outcome, signal, attempt: i.attempt });
        return outcome.promise;
      }),
    },
  });
  const actor = createActor(machine, {
    clock,
    input: {
      id: 'j1',
      attemptsMade: 0,
      maxAttempts: 3,
      backoff: fixed({ delayMs: 100 }),
      timeoutMs: 0,
      delayMs: 0,
      job: null,
      ...input,
    },
  });
  actor.start();
  /**
   * Resolves once the actor has heard how try `n` ended: the promise actor's own reaction to the
   * handler's promise was registered first, so it has run (and sent its event) by then.
   */
  const settled = (n: number) =>
    tries[n]!.outcome.promise.then(
      () => undefined,
      () => undefined,
    );
  const succeed = (n: number, result: unknown) => {
    tries[n]!.outcome.resolve(result);
    return settled(n);
  };
  /** The handler of try `n` throws. */
  const fail = (n: number, message = 'boom') => {
    tries[n]!.outcome.reject(new Error(message));
    return settled(n);
  };
  return {
    actor,
    clock,
    tries,
    succeed,
    fail,
    state: () => actor.getSnapshot().value,
    ctx: () => actor.getSnapshot().context,
  };
}

describe('retry-job machine', () => {
  it('waits, then runs its handler on job.start (attempt 1)', () => {
    const t = start();
    expect(t.state()).toBe('waiting');
    t.actor.send({ type: 'job.start' });
    expect(t.state()).toBe('active');
    expect(t.tries.map((x) => x.attempt)).toEqual([1]);
  });

  it('starts delayed and becomes waiting after exactly delayMs', () => {
    const t = start({ delayMs: 500 });
    expect(t.state()).toBe('delayed');
    t.clock.advance(499);
    expect(t.state()).toBe('delayed');
    t.clock.advance(1);
    expect(t.state()).toBe('waiting');
    expect(t.ctx().delayMs).toBe(0);
  });

  it('completes with the handler result', async () => {
    const t = start();
    t.actor.send({ type: 'job.start' });
    await t.succeed(0, { sent: true });
    expect(t.state()).toBe('completed');
    expect(t.ctx()).toMatchObject({ attempt: 1, result: { sent: true }, error: undefined });
    expect(t.actor.getSnapshot().status).toBe('done');
  });

  it('fails with attempts left, backs off for the backoff delay, then waits again', async () => {
    const t = start({ backoff: linear({ initialMs: 100, stepMs: 100, jitter: 'none' }) });
    t.actor.send({ type: 'job.start' });
    await t.fail(0, 'smtp down');
    expect(t.state()).toBe('failed');
    expect(t.ctx()).toMatchObject({
      attempt: 1,
      reason: 'handler',
      error: { name: 'Error', message: 'smtp down' },
    });
    t.clock.advance(99);
    expect(t.state()).toBe('failed');
    t.clock.advance(1);
    expect(t.state()).toBe('waiting');
    t.actor.send({ type: 'job.start' });
    await t.fail(1);
    t.clock.advance(199);
    expect(t.state()).toBe('failed');
    t.clock.advance(1);
    expect(t.state()).toBe('waiting');
  });

  it('is dead once the last attempt fails', async () => {
    const t = start({ maxAttempts: 2, attemptsMade: 1 });
    t.actor.send({ type: 'job.start' });
    expect(t.tries[0]!.attempt).toBe(2);
    await t.fail(0);
    expect(t.state()).toBe('dead');
    expect(t.ctx()).toMatchObject({ attempt: 2, reason: 'handler' });
    expect(t.actor.getSnapshot().status).toBe('done');
  });

  it('times out: the try fails with a TimeoutError and its signal aborts', () => {
    const t = start({ timeoutMs: 1_000 });
    t.actor.send({ type: 'job.start' });
    t.clock.advance(999);
    expect(t.state()).toBe('active');
    t.clock.advance(1);
    expect(t.state()).toBe('failed');
    expect(t.ctx()).toMatchObject({ reason: 'timeout', error: { name: 'TimeoutError' } });
    expect(t.tries[0]!.signal.aborted).toBe(true);
  });

  it('is dead when the last try times out', () => {
    const t = start({ timeoutMs: 50, maxAttempts: 1 });
    t.actor.send({ type: 'job.start' });
    t.clock.advance(50);
    expect(t.state()).toBe('dead');
    expect(t.ctx().reason).toBe('timeout');
  });

  it('hands an active job back on job.release: waiting, the try not counted, the signal aborted', () => {
    const t = start();
    t.actor.send({ type: 'job.start' });
    t.actor.send({ type: 'job.release' });
    expect(t.state()).toBe('waiting');
    expect(t.ctx().attempt).toBe(0);
    expect(t.tries[0]!.signal.aborted).toBe(true);
  });

  it('aborts the handler signal when the actor is stopped (shutdown)', () => {
    const t = start();
    t.actor.send({ type: 'job.start' });
    t.actor.stop();
    expect(t.tries[0]!.signal.aborted).toBe(true);
  });

  it('ignores a late handler result after a timeout', async () => {
    const t = start({ timeoutMs: 10 });
    t.actor.send({ type: 'job.start' });
    t.clock.advance(10);
    await t.succeed(0, 'late');
    expect(t.state()).toBe('failed');
    expect(t.ctx().result).toBeUndefined();
  });
});

describe('retry-job machine: a job that stalls', () => {
  it('is dead when the store says it was taken too often without settling, counting those tries', () => {
    const actor = createActor(retryJobMachine, {
      input: {
        id: 'j',
        attemptsMade: 1,
        maxAttempts: 3,
        backoff: fixed({ delayMs: 1 }),
        timeoutMs: 0,
        delayMs: 0,
        job: null,
      },
    }).start();
    actor.send({ type: 'job.stalled', deliveries: 7 });
    const s = actor.getSnapshot();
    expect(s.value).toBe('dead');
    expect(s.status).toBe('done');
    expect(s.context).toMatchObject({ attempt: 8, reason: 'timeout', error: { name: 'StalledError' } });
  });
});
