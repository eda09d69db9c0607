import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isRateLimitedError } from '../../src/errors.js';
import { rateLimiter } from '../../src/policy/index.js';
import { PAST_EPOCH, TestClock } from '../support/clock.js';

type Command =
  { kind: 'call'; abortable: boolean } | { kind: 'advance'; ms: number } | { kind: 'abort'; pick: number };

/** When a call ran (clock ms), or how it was refused. */
type Result = { ran: number } | { refused: number } | 'aborted';

interface Limits {
  limit: number;
  intervalMs: number;
  wait: boolean;
  maxWaitMs: number | undefined;
}

/**
 * The generic cell rate algorithm, which lets through the same calls as a token bucket of `limit`
 * tokens per `intervalMs`: a theoretical arrival time that each call pushes one emission interval
 * later, refused while it runs more than the burst tolerance ahead of now. Time is scaled by
 * `limit` so that the interval `intervalMs / limit` is an integer.
 */
class ReferenceLimiter {
  /** Scaled theoretical arrival time. */
  private tat: number;
  private readonly tolerance: number;
  readonly queue: number[] = [];
  readonly results = new Map<number, Result>();
  granted = 0;
  rejected = 0;

  constructor(
    private readonly o: Limits,
    public now: number,
  ) {
    this.tat = now * o.limit;
    this.tolerance = (o.limit - 1) * o.intervalMs;
  }

  /** ms from now until the call with `ahead` calls before it may run. */
  private waitMs(ahead: number): number {
    const tat = Math.max(this.tat, this.now * this.o.limit);
    const due = Math.ceil((tat + ahead * this.o.intervalMs - this.tolerance) / this.o.limit);
    return Math.max(0, due - this.now);
  }

  private grant(id: number): void {
    this.tat = Math.max(this.tat, this.now * this.o.limit) + this.o.intervalMs;
    this.granted++;
    this.results.set(id, { ran: this.now });
  }

  call(id: number): void {
    const waitMs = this.waitMs(this.queue.length);
    if (this.queue.length === 0 && waitMs === 0) return this.grant(id);
    if (!this.o.wait || waitMs > (this.o.maxWaitMs ?? Infinity)) {
      this.rejected++;
      this.results.set(id, { refused: waitMs });
    } else this.queue.push(id);
  }

  abort(id: number): void {
    this.queue.splice(this.queue.indexOf(id), 1);
    this.results.set(id, 'aborted');
  }

  advance(ms: number): void {
    const target = this.now + ms;
    while (this.queue.length > 0 && this.now + this.waitMs(0) <= target) {
      this.now += this.waitMs(0);
      this.grant(this.queue.shift()!);
    }
    this.now = target;
  }

  available(): number {
    const debt = Math.max(0, this.tat - this.now * this.o.limit);
    return Math.floor((this.o.limit * this.o.intervalMs - debt) / this.o.intervalMs);
  }
}

const limitsArb: fc.Arbitrary<Limits> = fc.record({
  limit: fc.integer({ min: 1, max: 5 }),
  intervalMs: fc.constantFrom(100, 250, 333, 1_000),
  wait: fc.boolean(),
  maxWaitMs: fc.option(fc.integer({ min: 0, max: 1_500 }), { nil: undefined }),
});

const commandArb: fc.Arbitrary<Command> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('call' as const), abortable: fc.boolean() }) },
  {
    weight: 3,
    arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 1, max: 700 }) }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('abort' as const), pick: fc.nat() }) },
);

const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('rate limiter against a reference model', () => {
  it('agrees on when each call runs, which are refused (and their retryAfterMs) and the stats', async () => {
    await fc.assert(
      fc.asyncProperty(limitsArb, fc.array(commandArb, { maxLength: 60 }), async (limits, commands) => {
        const clock = new TestClock(PAST_EPOCH);
        const limiter = rateLimiter({ ...limits, name: 'model' }, { clock });
        const model = new ReferenceLimiter(limits, clock.now());
        const results = new Map<number, Result>();
        const controllers = new Map<number, AbortController>();
        let next = 0;
        for (const command of commands) {
          if (command.kind === 'call') {
            const id = next++;
            const controller = command.abortable ? new AbortController() : undefined;
            if (controller) controllers.set(id, controller);
            limiter
              .execute(() => void results.set(id, { ran: clock.now() }), controller?.signal)
              .catch((err: unknown) => {
                if (isRateLimitedError(err)) results.set(id, { refused: err.retryAfterMs });
                else if (err === controller?.signal.reason) results.set(id, 'aborted');
                else throw err;
              });
            model.call(id);
          } else if (command.kind === 'advance') {
            clock.advance(command.ms);
            model.advance(command.ms);
          } else {
            const waiting = model.queue.filter((id) => controllers.has(id));
            if (waiting.length === 0) continue;
            const id = waiting[command.pick % waiting.length]!;
            controllers.get(id)!.abort(new Error('gone'));
            model.abort(id);
          }
          await flush();
          expect(clock.now()).toBe(model.now);
          expect(results).toEqual(model.results);
          expect(limiter.stats()).toEqual({
            name: 'model',
            limit: limits.limit,
            intervalMs: limits.intervalMs,
            available: model.available(),
            waiting: model.queue.length,
            granted: model.granted,
            rejected: model.rejected,
          });
          // One timer while callers wait (for the first one's token), none otherwise.
          expect(clock.pending).toBe(model.queue.length > 0 ? 1 : 0);
        }
      }),
      { numRuns: Number(process.env.POLICY_MODEL_RUNS ?? 500) },
    );
  }, 60_000);
});
