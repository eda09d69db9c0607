import { describe, expect, it, vi } from 'vitest';
import {
  createBreaker,
  NEVER_ABORTED,
  type BreakerOptions,
  type BreakerStrategy,
} from '../../src/breaker/index.js';
import {
  CircuitOpenError,
  isCircuitOpenError,
  isTimeoutError,
  isValidationError,
  TimeoutError,
} from '../../src/errors.js';
import { PAST_EPOCH, TestClock } from '../support/clock.js';
import { deferred } from '../support/wait.js';

const boom = () => Promise.reject(new Error('boom'));
const ok = () => Promise.resolve('ok');

function setup(options: BreakerOptions = {}) {
  const clock = new TestClock(PAST_EPOCH);
  const breaker = createBreaker('svc', { failureThreshold: 2, resetTimeoutMs: 1_000, ...options }, { clock });
  const changes: string[] = [];
  breaker.on('stateChange', ({ from, to }) => changes.push(`${from}->${to}`));
  const fail = async (n = 1) => {
    for (let i = 0; i < n; i++) await breaker.execute(boom).catch(() => undefined);
  };
  return { clock, breaker, changes, fail };
}

describe('Breaker: CLOSED', () => {
  it('passes the call its arguments and the shared never-aborted signal, and its result back', async () => {
    const { breaker } = setup();
    const fn = vi.fn((_signal: AbortSignal, a: number, b: string) => Promise.resolve(`${a}${b}`));
    await expect(breaker.execute(fn, 1, 'x')).resolves.toBe('1x');
    expect(fn).toHaveBeenCalledWith(NEVER_ABORTED, 1, 'x');
    expect(NEVER_ABORTED.aborted).toBe(false);
  });

  it('turns a synchronous throw into a rejection', async () => {
    const { breaker } = setup();
    const p = breaker.execute(() => {
      throw new Error('sync');
    });
    await expect(p).rejects.toThrow('sync');
  });

  it('accepts a function that returns a plain value', async () => {
    await expect(setup().breaker.execute(() => 42)).resolves.toBe(42);
  });

  it('costs the actor nothing while calls do not cross the threshold', async () => {
    const clock = new TestClock(PAST_EPOCH);
    const events: unknown[] = [];
    const breaker = createBreaker(
      'quiet',
      { failureThreshold: 0.5, minimumRequests: 10 },
      {
        clock,
        inspect: (ev) => {
          if ((ev as { type: string }).type === '@xstate.event') events.push(ev);
        },
      },
    );
    events.length = 0; // xstate.init
    for (let i = 0; i < 100; i++) await breaker.execute(i % 4 === 0 ? boom : ok).catch(() => undefined);
    expect(events).toEqual([]);
    expect(clock.pending).toBe(0);
    // Failures until the window trips, then refusals: one event in all, `window.tripped`.
    for (let i = 0; i < 50; i++) await breaker.execute(boom).catch(() => undefined);
    expect(breaker.state).toBe('OPEN');
    expect(events.map((e) => (e as { event: { type: string } }).event.type)).toEqual(['window.tripped']);
    breaker.dispose();
  });

  it('opens at the consecutive threshold and says so once', async () => {
    const { breaker, changes, fail } = setup({ failureThreshold: 3 });
    await fail(2);
    await breaker.execute(ok);
    await fail(2);
    expect(breaker.state).toBe('CLOSED');
    await fail(1);
    expect(breaker.state).toBe('OPEN');
    expect(changes).toEqual(['CLOSED->OPEN']);
  });

  it('opens at a failure rate once minimumRequests calls are in the window', async () => {
    const { breaker, fail } = setup({
      failureThreshold: 0.5,
      minimumRequests: 4,
      window: { kind: 'count', size: 10 },
    });
    await fail(3);
    expect(breaker.state).toBe('CLOSED');
    await breaker.execute(ok);
    expect(breaker.state).toBe('OPEN');
    expect(breaker.stats().failureRate).toBe(0.75);
  });

  it('stays CLOSED while the rate is under the threshold', async () => {
    const { breaker, fail } = setup({
      failureThreshold: 0.5,
      minimumRequests: 4,
      window: { kind: 'count', size: 6 },
    });
    for (let i = 0; i < 20; i++) {
      await breaker.execute(ok);
      await breaker.execute(ok);
      await fail(1);
    }
    expect(breaker.stats().failureRate).toBeCloseTo(1 / 3);
    expect(breaker.state).toBe('CLOSED');
  });

  it('forgets calls that left a time window', async () => {
    const { breaker, clock, fail } = setup({
      failureThreshold: 0.5,
      minimumRequests: 2,
      window: { kind: 'time', ms: 1_000, buckets: 10 },
    });
    await fail(1);
    clock.advance(1_000);
    await breaker.execute(ok);
    await breaker.execute(ok);
    expect(breaker.stats().failureRate).toBe(0);
    await fail(1);
    expect(breaker.state).toBe('CLOSED');
    await fail(1);
    expect(breaker.state).toBe('OPEN');
  });

  it('opens on the slow-call rate even when every call succeeds', async () => {
    const { breaker, clock } = setup({
      failureThreshold: 0.5,
      minimumRequests: 2,
      slowCallMs: 100,
      slowCallRateThreshold: 1,
    });
    for (let i = 0; i < 2; i++) {
      const gate = deferred<string>();
      const p = breaker.execute(() => gate.promise);
      clock.advance(100);
      gate.resolve('late');
      await expect(p).resolves.toBe('late');
    }
    expect(breaker.state).toBe('OPEN');
    expect(breaker.stats()).toMatchObject({ successCount: 2, failureCount: 0 });
  });

  it('counts errors isFailure rejects as successes, and still passes them on', async () => {
    const { breaker } = setup({
      failureThreshold: 1,
      isFailure: (e) => (e as Error).message !== 'not found',
    });
    await expect(breaker.execute(() => Promise.reject(new Error('not found')))).rejects.toThrow('not found');
    expect(breaker.state).toBe('CLOSED');
    expect(breaker.stats()).toMatchObject({ successCount: 1, failureCount: 0 });
  });
});

describe('Breaker: OPEN and HALF_OPEN', () => {
  it('refuses with CircuitOpenError without calling fn, until resetTimeoutMs has passed', async () => {
    const { breaker, clock, fail } = setup();
    await fail(2);
    const fn = vi.fn(ok);
    const err: unknown = await breaker.execute(fn).catch((e: unknown) => e);
    expect(isCircuitOpenError(err)).toBe(true);
    expect((err as CircuitOpenError).breaker).toBe('svc');
    expect(fn).not.toHaveBeenCalled();
    clock.advance(999);
    expect(breaker.state).toBe('OPEN');
    clock.advance(1);
    expect(breaker.state).toBe('HALF_OPEN');
  });

  it('HALF_OPEN: a successful trial closes it with an empty window', async () => {
    const { breaker, clock, changes, fail } = setup();
    await fail(2);
    clock.advance(1_000);
    await breaker.execute(ok);
    expect(changes).toEqual(['CLOSED->OPEN', 'OPEN->HALF_OPEN', 'HALF_OPEN->CLOSED']);
    await fail(1);
    expect(breaker.state).toBe('CLOSED');
  });

  it('HALF_OPEN: a failed trial reopens it for another resetTimeoutMs', async () => {
    const { breaker, clock, fail } = setup();
    await fail(2);
    clock.advance(1_000);
    await fail(1);
    expect(breaker.state).toBe('OPEN');
    expect(breaker.stats().openedAt).toBe(clock.now());
    clock.advance(1_000);
    expect(breaker.state).toBe('HALF_OPEN');
  });

  it('HALF_OPEN admits halfOpenMaxCalls trials at once and refuses the rest', async () => {
    const { breaker, clock, fail } = setup({ halfOpenMaxCalls: 2, halfOpenSuccessThreshold: 2 });
    await fail(2);
    clock.advance(1_000);
    const gates = [deferred<string>(), deferred<string>(), deferred<string>()];
    const calls = gates.map((g) => breaker.execute(() => g.promise).catch((e: unknown) => e));
    gates.forEach((g) => g.resolve('trial'));
    const results = await Promise.all(calls);
    expect(results.slice(0, 2)).toEqual(['trial', 'trial']);
    expect(isCircuitOpenError(results[2])).toBe(true);
    expect(breaker.state).toBe('CLOSED');
  });

  it('a trial of an earlier HALF_OPEN period does not count in a later one', async () => {
    const { breaker, clock, fail } = setup({ halfOpenMaxCalls: 2 });
    await fail(2);
    clock.advance(1_000);
    const stale = deferred<string>();
    const staleCall = breaker.execute(() => stale.promise);
    await fail(1); // second trial fails: OPEN again
    clock.advance(1_000);
    stale.resolve('late');
    await staleCall;
    expect(breaker.state).toBe('HALF_OPEN');
  });

  it('a call that started CLOSED and ends OPEN does not touch the window', async () => {
    const { breaker, fail } = setup({ failureThreshold: 2 });
    const slow = deferred<string>();
    const call = breaker.execute(() => slow.promise);
    await fail(2);
    slow.resolve('done');
    await call;
    expect(breaker.state).toBe('OPEN');
  });

  it('dispose stops the reset timer', async () => {
    const { breaker, clock, fail } = setup();
    await fail(2);
    expect(clock.pending).toBe(1);
    breaker.dispose();
    breaker.dispose();
    expect(clock.pending).toBe(0);
  });
});

describe('Breaker: timeouts', () => {
  it('aborts the signal at timeoutMs and rejects with TimeoutError, counted as a failure', async () => {
    const { breaker, clock } = setup({ timeoutMs: 500, failureThreshold: 1 });
    let signal: AbortSignal | undefined;
    let stoppedWork = false;
    const call = breaker.execute(
      (s) =>
        new Promise((_, reject) => {
          signal = s;
          s.addEventListener('abort', () => {
            stoppedWork = true;
            reject(s.reason);
          });
        }),
    );
    clock.advance(499);
    expect(signal?.aborted).toBe(false);
    clock.advance(1);
    const err: unknown = await call.catch((e: unknown) => e);
    expect(isTimeoutError(err)).toBe(true);
    expect((err as TimeoutError).timeoutMs).toBe(500);
    expect(signal?.aborted).toBe(true);
    expect(signal?.reason).toBe(err);
    expect(stoppedWork).toBe(true);
    expect(breaker.stats()).toMatchObject({ state: 'OPEN', failureCount: 1, timeoutCount: 1 });
  });

  it('counts a timeout even when isFailure says otherwise, and even when fn ignores its signal', async () => {
    const { breaker, clock } = setup({ timeoutMs: 100, failureThreshold: 1, isFailure: () => false });
    const never = deferred<string>();
    const call = breaker.execute(() => never.promise);
    clock.advance(100);
    await expect(call).rejects.toBeInstanceOf(TimeoutError);
    never.resolve('too late');
    await Promise.resolve();
    expect(breaker.stats()).toMatchObject({ successCount: 0, failureCount: 1, timeoutCount: 1 });
  });

  it('leaves no timer behind when the call finishes first', async () => {
    const { breaker, clock } = setup({ timeoutMs: 100 });
    let signal: AbortSignal | undefined;
    await breaker.execute((s) => ((signal = s), Promise.resolve(1)));
    expect(signal).not.toBe(NEVER_ABORTED);
    expect(clock.pending).toBe(0);
    clock.advance(1_000);
    expect(signal?.aborted).toBe(false);
  });
});

describe('Breaker: fallback', () => {
  it('answers a refused call with fallback(CircuitOpenError, ...args)', async () => {
    const fallback = vi.fn((_err: unknown, id: string) => `cached ${id}`);
    const { breaker, fail } = setup({ fallback });
    await fail(2);
    await expect(breaker.execute((_s, id: string) => Promise.resolve(id), 'a')).resolves.toBe('cached a');
    expect(isCircuitOpenError(fallback.mock.calls[2]?.[0])).toBe(true);
  });

  it('answers a failed call with fallback(err, ...args), but not an error isFailure ignores', async () => {
    const notFound = new Error('not found');
    const { breaker } = setup({
      failureThreshold: 10,
      fallback: (err, id: string) => `fallback ${(err as Error).message} ${id}`,
      isFailure: (e) => e !== notFound,
    });
    await expect(breaker.execute(boom)).resolves.toBe('fallback boom undefined');
    await expect(breaker.execute((_s, _id: string) => Promise.reject(new Error('x')), 'b')).resolves.toBe(
      'fallback x b',
    );
    await expect(breaker.execute(() => Promise.reject(notFound))).rejects.toBe(notFound);
  });

  it('rejects with the fallback own error when it throws', async () => {
    const { breaker, fail } = setup({
      fallback: () => {
        throw new Error('no cache');
      },
    });
    await fail(2);
    await expect(breaker.execute(ok)).rejects.toThrow('no cache');
  });
});

describe('Breaker: manual control', () => {
  it('open() holds OPEN past resetTimeoutMs until close() or reset()', async () => {
    const { breaker, clock, changes } = setup();
    breaker.open();
    clock.advance(10_000);
    await expect(breaker.execute(ok)).rejects.toBeInstanceOf(CircuitOpenError);
    expect(breaker.stats()).toMatchObject({ state: 'OPEN', forced: true });
    expect(clock.pending).toBe(0);
    breaker.reset();
    await expect(breaker.execute(ok)).resolves.toBe('ok');
    expect(changes).toEqual(['CLOSED->OPEN', 'OPEN->CLOSED']);
  });

  it('close() lets every call through whatever fails, until open() or reset()', async () => {
    const { breaker, fail } = setup();
    breaker.close();
    await fail(10);
    expect(breaker.stats()).toMatchObject({ state: 'CLOSED', forced: true, failureCount: 10 });
    breaker.open();
    expect(breaker.state).toBe('OPEN');
    breaker.reset();
    expect(breaker.stats().forced).toBeUndefined();
    await fail(2);
    expect(breaker.state).toBe('OPEN');
  });

  it('on() returns a disposer', async () => {
    const { breaker } = setup();
    const seen: string[] = [];
    const off = breaker.on('stateChange', ({ to }) => seen.push(to));
    breaker.open();
    off();
    breaker.reset();
    expect(seen).toEqual(['OPEN']);
  });
});

describe('Breaker: stats and options', () => {
  it('reports every counter', async () => {
    const { breaker, clock, fail } = setup({ timeoutMs: 50 });
    await breaker.execute(ok);
    const t = breaker.execute(() => new Promise(() => undefined));
    clock.advance(50);
    await t.catch(() => undefined);
    await fail(1);
    await breaker.execute(ok).catch(() => undefined);
    expect(breaker.stats()).toEqual({
      name: 'svc',
      state: 'OPEN',
      failureRate: 2 / 3,
      totalRequests: 4,
      successCount: 1,
      failureCount: 2,
      rejectedCount: 1,
      timeoutCount: 1,
      openedAt: clock.now(),
    });
  });

  it('takes a strategy of its own behind the BreakerStrategy interface', async () => {
    let calls = 0;
    const everyOther: BreakerStrategy = {
      record: () => ++calls % 2 === 0,
      isTripped: () => calls > 0 && calls % 2 === 0,
      reset: () => void (calls = 0),
      failureRate: () => 0,
      toJSON: () => ({ kind: 'every-other', calls }),
    };
    const { breaker } = setup({ strategy: () => everyOther });
    await breaker.execute(ok);
    expect(breaker.state).toBe('CLOSED');
    await breaker.execute(ok);
    expect(breaker.state).toBe('OPEN');
  });

  it('rejects options out of range with ValidationError', () => {
    for (const bad of [
      { failureThreshold: 0 },
      { failureThreshold: 2.5 },
      { minimumRequests: 0 },
      { window: { kind: 'count' as const, size: 0 } },
      { slowCallRateThreshold: 1.5 },
      { timeoutMs: -1 },
      { halfOpenMaxCalls: 0 },
    ]) {
      let caught: unknown;
      try {
        createBreaker('bad', bad);
      } catch (err) {
        caught = err;
      }
      expect(isValidationError(caught)).toBe(true);
    }
  });
});
