import type { Clock } from '../time/clock.js';
import { Deadlines, type Expirable } from '../time/deadlines.js';
import { NO_TIMEOUT } from '../machines/retry-job.machine.js';

/** A timer of the shared deadline list. */
class Entry implements Expirable {
  prev: Expirable | undefined = undefined;
  next: Expirable | undefined = undefined;
  linked = false;

  constructor(
    readonly deadline: number,
    private readonly fn: () => void,
  ) {}

  expire(): void {
    this.fn();
  }
}

const NEVER = Symbol('never');

/**
 * The clock the queue gives its job actors. Every job of a queue arms the same `timeoutMs`, so
 * those timers arrive in deadline order and share one real timer through a {@link Deadlines}
 * list instead of one `setTimeout` each; "no timeout" arms nothing. Other delays (backoff) go to
 * the underlying clock.
 * @example
 * const clock = new JobClock(systemClock, 30_000);
 * createActor(retryJobMachine, { clock, input });
 */
export class JobClock implements Clock {
  private readonly deadlines: Deadlines<Entry>;

  /**
   * @param clock - the runtime's clock
   * @param timeoutMs - the queue's per-try timeout; 0 for none
   */
  constructor(
    private readonly clock: Clock,
    private readonly timeoutMs: number,
  ) {
    this.deadlines = new Deadlines<Entry>(clock);
  }

  now(): number {
    return this.clock.now();
  }

  setTimeout(fn: () => void, ms: number): unknown {
    if (ms >= NO_TIMEOUT) return NEVER;
    if (ms !== this.timeoutMs) return this.clock.setTimeout(fn, ms);
    const entry = new Entry(this.clock.now() + ms, fn);
    this.deadlines.add(entry);
    return entry;
  }

  clearTimeout(handle: unknown): void {
    if (handle === NEVER) return;
    if (handle instanceof Entry) this.deadlines.delete(handle);
    else this.clock.clearTimeout(handle);
  }

  /** Stops the shared timer; call once no job is active. */
  stop(): void {
    this.deadlines.stop();
  }
}
