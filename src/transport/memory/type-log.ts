import type { CloudEvent } from '../../events/cloudevent.js';

/**
 * One stored message of the memory stream. A class, not an object literal: V8 pretenures the
 * objects of a literal whose allocations nearly all survive a scavenge, as retained messages do.
 */
export class StoredMessage {
  /**
   * @param seq - the transport-wide sequence
   * @param msgId - the dedup key it was stored under; undefined for ids unique by construction
   * @param event - the CloudEvent (memory keeps objects; nothing is serialised)
   * @param body - raw bytes published with `publishRaw`; the subscriber decodes them
   * @param size - estimated heap bytes, as retention counts them
   */
  constructor(
    readonly seq: number,
    readonly type: string,
    readonly time: number,
    readonly msgId: string | undefined,
    readonly event: CloudEvent | undefined,
    readonly body: Uint8Array | string | undefined,
    readonly headers: Readonly<Record<string, string>>,
    readonly size: number,
  ) {}
}

/** The smallest ring a log keeps once it has held a message; an empty log shrinks back to it. */
const MIN_CAPACITY = 16;

/**
 * The stored messages of one event type, in sequence order, on a ring that grows by doubling and
 * shrinks as messages are dropped. Positions are absolute (the first message ever stored is 0), so
 * a consumer's position stays valid when older messages go.
 */
export class TypeLog {
  private ring: (StoredMessage | undefined)[] = [];
  private mask = 0;
  private first = 0;
  private next = 0;

  /** Position of the oldest stored message: how many have been dropped. */
  get start(): number {
    return this.first;
  }
  /** Position the next message takes: how many have ever been stored. */
  get end(): number {
    return this.next;
  }
  get size(): number {
    return this.next - this.first;
  }
  /** Slots of its ring: what the log holds on to, messages or not. */
  get capacity(): number {
    return this.ring.length;
  }

  append(msg: StoredMessage): void {
    if (this.size === this.ring.length) this.resize(Math.max(MIN_CAPACITY, this.ring.length * 2));
    this.ring[this.next++ & this.mask] = msg;
  }

  /** @returns the message at absolute position `pos`, or undefined if it was dropped or is not there yet */
  at(pos: number): StoredMessage | undefined {
    return pos >= this.first && pos < this.next ? this.ring[pos & this.mask] : undefined;
  }

  /** Drops the oldest message. @returns it */
  dropFirst(): StoredMessage {
    const slot = this.first++ & this.mask;
    const msg = this.ring[slot]!;
    this.ring[slot] = undefined;
    const capacity = this.ring.length;
    if (capacity > MIN_CAPACITY && this.size <= capacity >> 2) this.resize(capacity >> 1);
    return msg;
  }

  /** @returns the first position whose message matches `pred` (binary search over a monotone predicate) */
  firstPosition(pred: (msg: StoredMessage) => boolean): number {
    let lo = this.first;
    let hi = this.next;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (pred(this.at(mid)!)) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  /** Moves the messages to a ring of `capacity` (a power of two) slots. */
  private resize(capacity: number): void {
    const ring = new Array<StoredMessage | undefined>(capacity);
    const mask = capacity - 1;
    for (let pos = this.first; pos < this.next; pos++) ring[pos & mask] = this.ring[pos & this.mask];
    this.ring = ring;
    this.mask = mask;
  }
}
