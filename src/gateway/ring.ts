import type { GatewayEvent } from './frames.js';

/** What became of an arrival: held, already held (a redelivery), or older than what is still held. */
export type RingAdd = 'added' | 'duplicate' | 'late';

/**
 * The gateway's recent events in sequence order, at most `capacity`: what a reconnecting client
 * resumes from without reading the stream. Arrivals are kept sorted (the consumers of two patterns
 * may hand them over slightly out of order) and a sequence already held is not held twice.
 */
export class EventRing {
  private items: GatewayEvent[] = [];
  private head = 0;
  /** Every event received with a seq above this one is held; undefined until the first arrival. */
  private covered: number | undefined;
  private evicted = false;

  constructor(private readonly capacity: number) {}

  /** Events held. */
  get size(): number {
    return this.items.length - this.head;
  }

  /**
   * @returns true when the ring holds every event after `seq` that the gateway received since it
   * started: a client resuming after `seq` needs no history read
   */
  holdsAfter(seq: number): boolean {
    return this.covered !== undefined && seq >= this.covered;
  }

  /** Adds an event in sequence order, unless it is held already or older than the evicted ones. */
  add(e: GatewayEvent): RingAdd {
    const items = this.items;
    let at = items.length;
    while (at > this.head && items[at - 1]!.seq > e.seq) at--;
    if (at > this.head && items[at - 1]!.seq === e.seq) return 'duplicate';
    if (this.evicted && e.seq <= this.covered!) return 'late';
    if (at === items.length) items.push(e);
    else items.splice(at, 0, e);
    if (!this.evicted) this.covered = Math.min(this.covered ?? Infinity, e.seq - 1);
    if (this.size > this.capacity) this.evict();
    return 'added';
  }

  /** @returns the held events with a seq above `seq`, oldest first */
  after(seq: number): GatewayEvent[] {
    let lo = this.head;
    let hi = this.items.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.items[mid]!.seq <= seq) lo = mid + 1;
      else hi = mid;
    }
    return this.items.slice(lo);
  }

  /** The seq of the oldest event held, if any. */
  get oldest(): number | undefined {
    return this.items[this.head]?.seq;
  }

  private evict(): void {
    this.evicted = true;
    this.covered = this.items[this.head]!.seq;
    this.items[this.head++] = undefined as never;
    // Compact once the dropped half outweighs the rest: amortised O(1) per event.
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }
}
