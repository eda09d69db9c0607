import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createBreaker, type BreakerOptions } from '../../src/breaker/index.js';
import { isCircuitOpenError, isTimeoutError } from '../../src/errors.js';
import { ReferenceBreaker, type Outcome, type Result } from './reference-model.js';
import { PAST_EPOCH, TestClock } from '../support/clock.js';
import { deferred } from '../support/wait.js';

type Command =
  | { kind: 'call'; outcome: Exclude<Outcome, 'timeout'>; ms: number }
  | { kind: 'timeout'; honoursSignal: boolean }
  | { kind: 'advance'; ms: number }
  | { kind: 'manual'; op: 'open' | 'close' | 'reset' };

const TIMEOUT_MS = 300;
const SLOW_MS = 100;

const optionsArb = fc.record({
  failureThreshold: fc.oneof(fc.integer({ min: 1, max: 4 }), fc.constantFrom(0.2, 0.25, 0.5, 0.6, 0.75)),
  minimumRequests: fc.integer({ min: 1, max: 6 }),
  window: fc.oneof(
    fc.record({ kind: fc.constant('count' as const), size: fc.integer({ min: 1, max: 8 }) }),
    fc.record({
      kind: fc.constant('time' as const),
      ms: fc.constantFrom(600, 1_000),
      buckets: fc.integer({ min: 1, max: 4 }),
    }),
  ),
  slowCallMs: fc.option(fc.constant(SLOW_MS), { nil: undefined }),
  slowCallRateThreshold: fc.constantFrom(0.5, 1),
  timeoutMs: fc.option(fc.constant(TIMEOUT_MS), { nil: undefined }),
  resetTimeoutMs: fc.integer({ min: 200, max: 1_500 }),
  halfOpenSuccessThreshold: fc.integer({ min: 1, max: 3 }),
});

const commandArb: fc.Arbitrary<Command> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('call' as const),
      outcome: fc.constantFrom('ok' as const, 'ok' as const, 'error' as const, 'ignored' as const),
      ms: fc.integer({ min: 0, max: TIMEOUT_MS - 1 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('timeout' as const), honoursSignal: fc.boolean() }) },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 1, max: 1_600 }) }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('manual' as const),
      op: fc.constantFrom('open' as const, 'close' as const, 'reset' as const),
    }),
  },
);

const ignored = new Error('ignored');
const boom = new Error('boom');

/** Runs one call through the real breaker, moving the test clock as the command says. */
async function runCall(
  breaker: ReturnType<typeof createBreaker>,
  clock: TestClock,
  command: Extract<Command, { kind: 'call' | 'timeout' }>,
): Promise<Result> {
  const gate = deferred<number>();
  let signal: AbortSignal | undefined;
  const result = breaker.execute((s) => {
    signal = s;
    if (command.kind === 'timeout' && command.honoursSignal) {
      s.addEventListener('abort', () => gate.reject(s.reason));
    }
    return gate.promise;
  });
  if (signal) {
    if (command.kind === 'timeout') clock.advance(TIMEOUT_MS);
    else {
      clock.advance(command.ms);
      if (command.outcome === 'ok') gate.resolve(1);
      else gate.reject(command.outcome === 'error' ? boom : ignored);
    }
  }
  try {
    await result;
    return 'ok';
  } catch (err) {
    if (isCircuitOpenError(err)) return 'rejected';
    if (isTimeoutError(err)) {
      expect(signal?.aborted).toBe(true);
      return 'timeout';
    }
    return 'error';
  }
}

describe('breaker against a reference model', () => {
  it('agrees on every result and every stat over random calls, timeouts, clock moves and manual calls', async () => {
    await fc.assert(
      fc.asyncProperty(optionsArb, fc.array(commandArb, { maxLength: 60 }), async (opts, commands) => {
        const clock = new TestClock(PAST_EPOCH);
        const options: BreakerOptions = { ...opts, isFailure: (err) => err !== ignored };
        const breaker = createBreaker('model', options, { clock });
        const model = new ReferenceBreaker(opts, clock.now());
        try {
          for (const command of commands) {
            if (command.kind === 'advance') {
              clock.advance(command.ms);
              model.advance(command.ms);
            } else if (command.kind === 'manual') {
              breaker[command.op === 'open' ? 'open' : command.op === 'close' ? 'close' : 'reset']();
              model.manual(command.op);
            } else {
              // Without timeoutMs a "timeout" is a call that succeeds after a while.
              const effective: typeof command =
                command.kind === 'timeout' && opts.timeoutMs === undefined
                  ? { kind: 'call', outcome: 'ok', ms: TIMEOUT_MS - 1 }
                  : command;
              const actual = await runCall(breaker, clock, effective);
              const expected =
                effective.kind === 'timeout'
                  ? model.call('timeout', 0)
                  : model.call(effective.outcome, effective.ms);
              expect(actual).toBe(expected);
            }
            expect(clock.now()).toBe(model.now);
            const { forced, openedAt, ...expected } = model.stats();
            const stats = breaker.stats();
            expect({ ...stats, failureRate: Math.round(stats.failureRate * 1e9) }).toEqual({
              name: 'model',
              ...expected,
              failureRate: Math.round(expected.failureRate * 1e9),
              ...(forced ? { forced } : {}),
              ...(openedAt !== undefined ? { openedAt } : {}),
            });
          }
          // Only an OPEN breaker holds a timer: its reset delay.
          expect(clock.pending).toBe(breaker.stats().state === 'OPEN' && !breaker.stats().forced ? 1 : 0);
        } finally {
          breaker.dispose();
        }
      }),
      { numRuns: Number(process.env.BREAKER_MODEL_RUNS ?? 1_000) },
    );
  }, 60_000);
});
