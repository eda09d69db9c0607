import type { ActorOptions, AnyActorLogic } from 'xstate';
import type { Clock } from '../../src/time/clock.js';

/**
 * The clock XState's actors take (`createActor(logic, { clock })`): `setTimeout(fn, ms)` and
 * `clearTimeout(id)`. XState 5 does not export the type, so it is read off the actor options.
 */
type XStateClock = NonNullable<ActorOptions<AnyActorLogic>['clock']>;

/**
 * A start time well past the epoch, as a real clock reads. Breaker tests start there: a breaker's
 * time window numbers its buckets from 0 and miscounts calls made before the first window ends.
 */
export const PAST_EPOCH = 1_000_000;

interface Timer {
  readonly due: number;
  readonly seq: number;
  readonly fn: () => void;
}

/**
 * Simulated time for the tests, one clock for bulwark's actors (`Clock`) and XState's (`clock`
 * option) alike. It moves only when told: `advance(ms)` runs the timers that fall due, earliest
 * first (ties in the order they were set), each with `now()` at its due time, so that a timer set
 * by a callback counts from that moment and fires in the same `advance` when it is due by then.
 * @example
 * const clock = new TestClock();
 * const actor = createActor(machine, { clock }).start();
 * clock.advance(1_000); // the machine's `after: { 1000: … }` fires
 */
export class TestClock implements Clock, XStateClock {
  private readonly timers = new Set<Timer>();
  private seq = 0;

  /** @param time - what `now()` says before the first `advance` */
  constructor(private time = 0) {}

  now(): number {
    return this.time;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const timer: Timer = { due: this.time + Math.max(0, ms), seq: this.seq++, fn };
    this.timers.add(timer);
    return timer;
  }

  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as Timer);
  }

  /** Timers neither fired nor cleared. */
  get pending(): number {
    return this.timers.size;
  }

  /** Moves time forward by `ms`, running every timer that falls due on the way, in due order. */
  advance(ms: number): void {
    const target = this.time + ms;
    for (let next = this.nextDue(target); next; next = this.nextDue(target)) {
      this.timers.delete(next);
      this.time = next.due;
      next.fn();
    }
    this.time = target;
  }

  private nextDue(target: number): Timer | undefined {
    let next: Timer | undefined;
    for (const t of this.timers) {
      if (t.due > target) continue;
      if (!next || t.due < next.due || (t.due === next.due && t.seq < next.seq)) next = t;
    }
    return next;
  }
}
