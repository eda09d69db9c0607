import type { Clock } from './clock.js';

/** Something with a deadline that can be expired; the links belong to {@link Deadlines}. */
export interface Expirable {
  readonly deadline: number;
  expire(): void;
  prev: Expirable | undefined;
  next: Expirable | undefined;
  linked: boolean;
}

/**
 * Deadlines of in-flight work sharing one timeout. Entries arrive in deadline order, so one timer
 * armed for the oldest entry serves them all: no timer per message. Entries form an intrusive
 * linked list, so adding and removing cost a few pointer writes and no hashing. Finished entries
 * are unlinked without touching the timer; when it fires it expires what is due and re-arms for
 * the new oldest entry.
 */
export class Deadlines<T extends Expirable> {
  private head: Expirable | undefined;
  private tail: Expirable | undefined;
  private count = 0;
  private timer: unknown = undefined;
  private armedFor = 0;
  private readonly fire = (): void => this.onTimer();

  constructor(private readonly clock: Clock) {}

  add(entry: T): void {
    entry.prev = this.tail;
    entry.next = undefined;
    entry.linked = true;
    if (this.tail) this.tail.next = entry;
    else this.head = entry;
    this.tail = entry;
    this.count++;
    if (this.timer === undefined) this.arm(entry.deadline);
  }

  delete(entry: T): void {
    if (!entry.linked) return;
    entry.linked = false;
    if (entry.prev) entry.prev.next = entry.next;
    else this.head = entry.next;
    if (entry.next) entry.next.prev = entry.prev;
    else this.tail = entry.prev;
    entry.prev = entry.next = undefined;
    this.count--;
  }

  get size(): number {
    return this.count;
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
    while (this.head) {
      const entry = this.head as T;
      if (entry.deadline > now) return this.arm(entry.deadline);
      this.delete(entry);
      entry.expire();
    }
  }
}
