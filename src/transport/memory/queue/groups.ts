import { Deque } from './heap.js';
import type { Rec } from './lease.js';

/**
 * The ordered groups of a memory queue: one FIFO of jobs per group, in add order. Only a group's
 * head may be handed out, and only while it is `waiting`; it stays the head through its tries and
 * backoffs, and the next job becomes the head once it finished (or was removed). Groups whose head
 * is ready to run wait in one round-robin list, so that groups run in parallel.
 */
export class MemoryGroups {
  private readonly fifos = new Map<string, Deque<Rec>>();
  /** Groups whose head is waiting and not handed out, each at most once. */
  private readonly ready = new Deque<string>();
  private readonly listed = new Set<string>();

  /** Appends a job to its group (a new one, or a delayed one now due); it becomes the head when the group was empty. */
  add(rec: Rec, group: string): void {
    let fifo = this.fifos.get(group);
    if (!fifo) this.fifos.set(group, (fifo = new Deque<Rec>()));
    rec.grouped = true;
    fifo.push(rec);
    if (fifo.length === 1) this.wake(rec);
  }

  /** A job of a group became `waiting` (due, handed back): its group is ready when it is the head. */
  wake(rec: Rec): void {
    const group = rec.job.group;
    if (group === undefined || rec.state !== 'waiting') return;
    if (this.head(group) !== rec || this.listed.has(group)) return;
    this.listed.add(group);
    this.ready.push(group);
  }

  /** @returns the head of the next ready group, or undefined when none is */
  take(): Rec | undefined {
    for (let group = this.ready.shift(); group !== undefined; group = this.ready.shift()) {
      this.listed.delete(group);
      const head = this.head(group);
      if (head?.state === 'waiting') return head;
    }
    return undefined;
  }

  /** A job left the live path (finished, removed): when it was its group's head, the next one may run. */
  left(rec: Rec): void {
    const group = rec.job.group;
    const fifo = group === undefined ? undefined : this.fifos.get(group);
    if (!fifo || group === undefined) return;
    rec.gone = true;
    const next = this.head(group);
    if (!next) this.fifos.delete(group);
    else this.wake(next);
  }

  /** The group's first live job; jobs that left are dropped on the way. */
  private head(group: string): Rec | undefined {
    const fifo = this.fifos.get(group);
    if (!fifo) return undefined;
    for (let rec = fifo.peek(); rec; rec = fifo.peek()) {
      if (!rec.gone) return rec;
      fifo.shift();
    }
    return undefined;
  }

  /** Groups with jobs (a number for tests and stats). */
  get size(): number {
    return this.fifos.size;
  }
}
