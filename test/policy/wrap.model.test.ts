import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createBreaker } from '../../src/breaker/index.js';
import { isCircuitOpenError, isTimeoutError } from '../../src/errors.js';
import { invoke } from '../../src/policy/policy.js';
import { timeout, wrap, type Policy, type PolicyCall } from '../../src/policy/index.js';
import { immediate } from '../../src/retry/backoff.js';
import { retry } from '../../src/retry/retry.js';
import { PAST_EPOCH, TestClock } from '../support/clock.js';

// Which policy sees which failure: random stacks of retry, breaker and timeout, with a probe above
// every layer and above the work, against a model of each policy's rule.

type Layer = 'retry' | 'breaker' | 'timeout';
/** What the work does on one try: succeed, fail, or hang until its signal aborts. */
type Step = 'ok' | 'error' | 'hang';
/** What a probe saw come out of the layers below it. */
type Seen = 'ok' | 'error' | 'timeout' | 'open';

const TIMEOUT_MS = 50;
const boom = new Error('boom');

/** A policy of the test's own that records every outcome passing through it. */
class Probe implements Policy {
  readonly seen: Seen[] = [];
  execute<T>(fn: PolicyCall<T>, signal?: AbortSignal): Promise<T> {
    return invoke(fn, signal!).then(
      (value) => (this.seen.push('ok'), value),
      (err: unknown) => {
        this.seen.push(isTimeoutError(err) ? 'timeout' : isCircuitOpenError(err) ? 'open' : 'error');
        throw err;
      },
    );
  }
}

/** Each policy's rule, one call at a time; `'hang'` climbs until a timeout ends it. */
class ReferenceStack {
  readonly seen: Seen[][];
  private failuresInRow = 0;
  open = false;
  counts = { success: 0, failure: 0, rejected: 0 };
  private pending: number[] = [];

  constructor(
    private readonly layers: readonly Layer[],
    private readonly maxAttempts: number,
    private readonly threshold: number,
    private readonly steps: Step[],
  ) {
    this.seen = layers.map(() => []).concat([[]]);
  }

  call(): Seen {
    return this.layer(0) as Seen;
  }

  /** The outcome layer `i` hands up, recorded by the probe above it. */
  private layer(i: number): Seen | 'hang' {
    const out = this.below(i);
    if (out === 'hang') this.pending.push(i);
    else this.seen[i]!.push(out);
    return out;
  }

  private below(i: number): Seen | 'hang' {
    const kind = this.layers[i];
    if (kind === undefined) {
      const step = this.steps.shift() ?? 'ok';
      return step === 'hang' && !this.layers.includes('timeout') ? 'error' : step;
    }
    if (kind === 'timeout') {
      const out = this.layer(i + 1);
      if (out !== 'hang') return out;
      // The signal aborts: everything still waiting below sees the TimeoutError, innermost first.
      for (const j of this.pending.splice(0)) this.unwind(j);
      return 'timeout';
    }
    if (kind === 'breaker') {
      if (this.open) return (this.counts.rejected++, 'open');
      const out = this.layer(i + 1);
      if (out !== 'hang') this.record(out);
      return out;
    }
    let out: Seen | 'hang' = 'error';
    for (let attempt = 1; attempt <= this.maxAttempts; attempt++) {
      out = this.layer(i + 1);
      if (out === 'ok' || out === 'hang') break;
    }
    return out;
  }

  private unwind(depth: number): void {
    this.seen[depth]!.push('timeout');
    // A breaker counts the try that timed out; a retry whose signal aborted gives up.
    if (this.layers[depth] === 'breaker') this.record('timeout');
  }

  private record(out: Seen): void {
    if (out === 'ok') {
      this.counts.success++;
      this.failuresInRow = 0;
      return;
    }
    this.counts.failure++;
    if (++this.failuresInRow >= this.threshold) this.open = true;
  }
}

const layersArb = fc
  .shuffledSubarray(['retry', 'breaker', 'timeout'] as Layer[], { minLength: 1 })
  .filter((l) => l.length > 0);
const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('wrap against a reference model', () => {
  it('lets every policy see the failures its place in the stack implies', async () => {
    await fc.assert(
      fc.asyncProperty(
        layersArb,
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 1, max: 4 }),
        fc.array(fc.constantFrom<Step>('ok', 'error', 'error', 'hang'), { maxLength: 30 }),
        fc.integer({ min: 1, max: 8 }),
        async (layers, maxAttempts, threshold, steps, calls) => {
          const clock = new TestClock(PAST_EPOCH);
          const breaker = createBreaker(
            'wrap-model',
            { failureThreshold: threshold, resetTimeoutMs: 1e9 },
            { clock },
          );
          const policies: Record<Layer, Policy> = {
            retry: retry({ maxAttempts, backoff: immediate, clock }),
            breaker,
            timeout: timeout(TIMEOUT_MS, { clock }),
          };
          const probes = [...layers, 'work'].map(() => new Probe());
          const stack = wrap(...layers.flatMap((l, i) => [probes[i]!, policies[l]]), probes[layers.length]!);
          const model = new ReferenceStack(layers, maxAttempts, threshold, [...steps]);
          const script = [...steps];
          const work = (signal: AbortSignal): Promise<number> => {
            const step = script.shift() ?? 'ok';
            if (step === 'ok') return Promise.resolve(1);
            if (step === 'error' || !layers.includes('timeout')) return Promise.reject(boom);
            return new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)));
          };
          try {
            for (let c = 0; c < calls; c++) {
              let settled = false;
              const done = stack.execute(work).finally(() => (settled = true));
              done.catch(() => undefined);
              // Retry waits are due at once; only a hung try needs the clock to reach its timeout.
              for (let spins = 0; !settled && spins < 20; spins++) {
                for (let k = 0; k < 5; k++) {
                  await flush();
                  clock.advance(0);
                }
                await flush();
                if (!settled) clock.advance(TIMEOUT_MS);
              }
              await flush();
              expect(settled).toBe(true);
              model.call();
              expect(probes.map((p) => p.seen)).toEqual(model.seen);
            }
            const stats = breaker.stats();
            if (layers.includes('breaker')) {
              expect({
                success: stats.successCount,
                failure: stats.failureCount,
                rejected: stats.rejectedCount,
              }).toEqual(model.counts);
              expect(stats.state).toBe(model.open ? 'OPEN' : 'CLOSED');
            }
          } finally {
            breaker.dispose();
          }
        },
      ),
      { numRuns: Number(process.env.POLICY_MODEL_RUNS ?? 300) },
    );
  }, 60_000);
});
