import type { Clock } from '../../clock.js';

/** Something with a deadline that can be expired. */
export interface Expirable {
  readonly deadline: number;
  expire(): void;
}

/**
 * Deadlines of in-flight work sharing one timeout. Entries arrive in deadline order, so one timer
 * armed for the oldest entry serves them all: no timer per message. Finished entries are removed
 * from the Set in O(1) and the timer is not touched; when it fires it expires what is due and
 * re-arms for the new oldest entry.
 */
export class Deadlines<T extends Expirable> {
  private readonly entries = new Set<T>();
  private timer: unknown = undefined;
  private armedFor = 0;
  private readonly fire = (): void => this.onTimer();

  constructor(private readonly clock: Clock) {}

  add(entry: T): void {
    this.entries.add(entry);
    if (this.timer === undefined) this.arm(entry.deadline);
  }

  delete(entry: T): void {
    this.entries.delete(entry);
  }

  get size(): number {
    return this.entries.size;
  }

  /** Stops the timer; entries stay, so `stop` is safe while work is still in flight. */
  stop(): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private arm(deadline: number): void {
    this.armedFor = deadline;
    this.timer = this.clock.setTimeout(this.fire, Math.max(0, deadline - this.clock.now()));
  }

  private onTimer(): void {
    this.timer = undefined;
    const now = Math.max(this.clock.now(), this.armedFor);
    for (const entry of this.entries) {
      if (entry.deadline > now) return this.arm(entry.deadline);
      this.entries.delete(entry);
      entry.expire();
    }
  }
}
