import type { Clock } from '../time/clock.js';
import type { Logger } from '../logging.js';

/**
 * The phases of a graceful shutdown, in order: stop taking HTTP traffic, stop consuming (in-flight
 * handlers finish), finish jobs and user hooks, stop supervised actors, then flush the outbox and
 * close the transport.
 */
export const ShutdownPhase = {
  intake: 'intake',
  consumers: 'consumers',
  jobs: 'jobs',
  actors: 'actors',
  transport: 'transport',
} as const;
export type ShutdownPhase = (typeof ShutdownPhase)[keyof typeof ShutdownPhase];

const ORDER: readonly ShutdownPhase[] = ['intake', 'consumers', 'jobs', 'actors', 'transport'];

/** One piece of shutdown work. */
export interface ShutdownStep {
  readonly phase: ShutdownPhase;
  /** Named in the log when the deadline abandons it. */
  readonly name: string;
  readonly run: () => Promise<void>;
}

/**
 * The work users register for a runtime's shutdown (`rt.onShutdown`). Hooks without a phase run in
 * the `jobs` phase one after another, last registered first, as one step (a later hook may use
 * what an earlier one set up); a hook with a phase runs alongside that phase's other steps.
 * @example
 * const hooks = new ShutdownHooks();
 * hooks.add(() => cache.flush());
 * await runShutdown([...runtimeSteps, ...hooks.steps()], { deadlineMs, clock, logger });
 */
export class ShutdownHooks {
  private readonly stack: (() => Promise<void>)[] = [];
  private readonly phased: ShutdownStep[] = [];

  /** @param name - named in the log when the deadline abandons it */
  add(hook: () => Promise<void>, phase?: ShutdownPhase, name = `hook ${phase ?? 'jobs'}`): void {
    if (phase) this.phased.push({ phase, name, run: hook });
    else this.stack.push(hook);
  }

  /** @returns the registered hooks as shutdown steps */
  steps(): ShutdownStep[] {
    const stack = [...this.stack].reverse();
    const unphased: ShutdownStep = {
      phase: 'jobs',
      name: `shutdown hooks (${stack.length})`,
      run: async () => {
        for (const hook of stack) await hook();
      },
    };
    return stack.length ? [unphased, ...this.phased] : [...this.phased];
  }
}

/** How {@link runShutdown} ended. */
export interface ShutdownOutcome {
  /** True when every step finished before the deadline. */
  readonly completed: boolean;
  /** Steps still running or never started when the deadline passed. */
  readonly abandoned: readonly string[];
}

/**
 * Runs the steps phase by phase (the steps of one phase at once) against one deadline; when it
 * passes, logs what was abandoned and resolves without waiting further.
 * @example
 * await runShutdown(steps, { deadlineMs: 30_000, clock, logger });
 */
export async function runShutdown(
  steps: readonly ShutdownStep[],
  opts: { deadlineMs: number; clock: Clock; logger: Logger },
): Promise<ShutdownOutcome> {
  const pending = new Set(steps.map((s) => s.name));
  const work = (async () => {
    for (const phase of ORDER) {
      const now = steps.filter((s) => s.phase === phase);
      await Promise.all(
        now.map(async (s) => {
          try {
            await s.run();
          } catch (err) {
            opts.logger.error({ err, step: s.name }, 'shutdown step failed');
          }
          pending.delete(s.name);
        }),
      );
    }
  })();
  let timer: unknown;
  const expired = new Promise<'expired'>((resolve) => {
    timer = opts.clock.setTimeout(() => resolve('expired'), opts.deadlineMs);
  });
  const result = await Promise.race([work.then(() => 'done' as const), expired]);
  opts.clock.clearTimeout(timer);
  if (result === 'done') return { completed: true, abandoned: [] };
  const abandoned = [...pending];
  opts.logger.error({ abandoned, deadlineMs: opts.deadlineMs }, 'shutdown deadline passed; abandoning');
  return { completed: false, abandoned };
}
