import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isBulkheadRejectedError } from '../../src/errors.js';
import { bulkhead, NEVER_ABORTED } from '../../src/policy/index.js';
import { deferred } from '../support/wait.js';

type Command =
  | { kind: 'call'; abortable: boolean; abortedBefore: boolean }
  | { kind: 'settle'; pick: number; ok: boolean }
  | { kind: 'abort'; pick: number };

type Result = 'ok' | 'error' | 'rejected' | 'aborted';

const commandArb: fc.Arbitrary<Command> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('call' as const),
      abortable: fc.boolean(),
      abortedBefore: fc.integer({ min: 0, max: 9 }).map((n) => n === 0),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({ kind: fc.constant('settle' as const), pick: fc.nat(), ok: fc.boolean() }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('abort' as const), pick: fc.nat() }) },
);

/** The bulkhead as a list of running calls, a queue, and every call's result. */
class ReferenceBulkhead {
  readonly running: number[] = [];
  readonly queue: number[] = [];
  readonly results = new Map<number, Result>();
  rejected = 0;

  constructor(
    private readonly maxConcurrent: number,
    private readonly maxQueue: number,
  ) {}

  call(id: number, abortedBefore: boolean): void {
    if (abortedBefore) this.results.set(id, 'aborted');
    else if (this.running.length < this.maxConcurrent) this.running.push(id);
    else if (this.queue.length < this.maxQueue) this.queue.push(id);
    else {
      this.rejected++;
      this.results.set(id, 'rejected');
    }
  }

  settle(id: number, ok: boolean): void {
    this.running.splice(this.running.indexOf(id), 1);
    this.results.set(id, ok ? 'ok' : 'error');
    const next = this.queue.shift();
    if (next !== undefined) this.running.push(next);
  }

  abort(id: number): void {
    this.queue.splice(this.queue.indexOf(id), 1);
    this.results.set(id, 'aborted');
  }
}

/** Lets every promise reaction that is due run. */
const flush = () => new Promise<void>((resolve) => setImmediate(resolve));
const boom = new Error('boom');

describe('bulkhead against a reference model', () => {
  it('agrees on which calls run, wait, are refused or leave, over random calls, settlements and aborts', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 0, max: 4 }),
        fc.array(commandArb, { maxLength: 60 }),
        async (maxConcurrent, maxQueue, commands) => {
          const pool = bulkhead({ maxConcurrent, maxQueue });
          const model = new ReferenceBulkhead(maxConcurrent, maxQueue);
          const started = new Map<number, { settle: (ok: boolean) => void; signal: AbortSignal }>();
          const controllers = new Map<number, AbortController>();
          const results = new Map<number, Result>();
          let next = 0;
          for (const command of commands) {
            if (command.kind === 'call') {
              const id = next++;
              const controller =
                command.abortable || command.abortedBefore ? new AbortController() : undefined;
              if (command.abortedBefore) controller?.abort(new Error('gone'));
              if (controller) controllers.set(id, controller);
              const gate = deferred<number>();
              pool
                .execute((signal) => {
                  started.set(id, { settle: (ok) => (ok ? gate.resolve(1) : gate.reject(boom)), signal });
                  return gate.promise;
                }, controller?.signal)
                .then(
                  () => results.set(id, 'ok'),
                  (err: unknown) => {
                    const aborted = controller?.signal.aborted && err === controller.signal.reason;
                    results.set(
                      id,
                      isBulkheadRejectedError(err) ? 'rejected' : aborted ? 'aborted' : 'error',
                    );
                  },
                );
              model.call(id, command.abortedBefore);
            } else if (command.kind === 'settle') {
              if (model.running.length === 0) continue;
              const id = model.running[command.pick % model.running.length]!;
              started.get(id)!.settle(command.ok);
              model.settle(id, command.ok);
            } else {
              const waiting = model.queue.filter((id) => controllers.has(id));
              if (waiting.length === 0) continue;
              const id = waiting[command.pick % waiting.length]!;
              controllers.get(id)!.abort(new Error('gone'));
              model.abort(id);
            }
            await flush();
            const running = [...started.keys()].filter((id) => !results.has(id));
            expect(running.sort()).toEqual([...model.running].sort());
            expect(results).toEqual(model.results);
            expect(pool.stats()).toEqual({
              name: 'bulkhead',
              maxConcurrent,
              maxQueue,
              executing: model.running.length,
              queued: model.queue.length,
              rejected: model.rejected,
            });
          }
          // A call runs with its caller's signal, or the shared never-aborted one.
          for (const [id, { signal }] of started) {
            expect(signal).toBe(controllers.get(id)?.signal ?? NEVER_ABORTED);
          }
        },
      ),
      { numRuns: Number(process.env.POLICY_MODEL_RUNS ?? 500) },
    );
  }, 60_000);
});
