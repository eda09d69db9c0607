import type { CloudEvent } from '../../events/cloudevent.js';

/** One stored message of the memory stream. */
export interface StoredMessage {
  readonly seq: number;
  readonly type: string;
  readonly time: number;
  /** The dedup key it was stored under; undefined for events whose id is unique by construction. */
  readonly msgId: string | undefined;
  /** The CloudEvent as published (memory keeps objects; nothing is serialised). */
  readonly event: CloudEvent | undefined;
  /** Raw bytes published with `publishRaw`; the subscriber decodes them. */
  readonly body: Uint8Array | string | undefined;
  readonly headers: Readonly<Record<string, string>>;
}

/** The retained messages of one event type, in sequence order. */
export class TypeLog {
  private items: StoredMessage[] = [];
  private head = 0;
  /** Absolute index of `items[head]`: positions stay valid when old messages are dropped. */
  private offset = 0;

  get start(): number {
    return this.offset;
  }
  get end(): number {
    return this.offset + this.items.length - this.head;
  }

  append(msg: StoredMessage): void {
    this.items.push(msg);
  }

  /** @returns the message at absolute position `pos`, or undefined if it was dropped or is not there yet */
  at(pos: number): StoredMessage | undefined {
    if (pos < this.offset) return undefined;
    return this.items[this.head + pos - this.offset];
  }

  /** @returns the first position whose message matches `pred` (binary search over a monotone predicate) */
  firstPosition(pred: (msg: StoredMessage) => boolean): number {
    let lo = this.start;
    let hi = this.end;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (pred(this.at(mid)!)) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  /** Drops messages before `pos` while more than `keep` are retained. */
  trim(pos: number, keep: number): void {
    const drop = Math.min(pos - this.offset, this.end - this.offset - keep);
    if (drop <= 0) return;
    this.head += drop;
    this.offset += drop;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }
}

/**
 * Dedup keys within a time window, bounded in count. Keys expire in insertion order, so a ring of
 * (key, expiry) pairs beside the Map makes pruning O(1) per publish with no iterator or per-key object.
 */
export class DedupWindow {
  private readonly seen = new Map<string, number>();
  private readonly keys: (string | undefined)[];
  private readonly until: Float64Array;
  private head = 0;
  private size = 0;

  /**
   * @param windowMs - how long a key is remembered; 0 disables dedup
   * @param maxKeys - the most keys remembered at once; the oldest are forgotten first
   */
  constructor(
    private readonly windowMs: number,
    private readonly maxKeys: number,
  ) {
    this.keys = new Array<string | undefined>(windowMs > 0 ? maxKeys : 0);
    this.until = new Float64Array(windowMs > 0 ? maxKeys : 0);
  }

  /** @returns the sequence stored under `id` within the window, if any */
  check(id: string, now: number): number | undefined {
    if (this.size === 0) return undefined;
    while (this.size > 0 && this.until[this.head]! <= now) this.evict();
    return this.seen.get(id);
  }

  remember(id: string, seq: number, now: number): void {
    if (this.windowMs <= 0) return;
    if (this.size === this.maxKeys) this.evict();
    const slot = (this.head + this.size) % this.maxKeys;
    this.keys[slot] = id;
    this.until[slot] = now + this.windowMs;
    this.size++;
    this.seen.set(id, seq);
  }

  private evict(): void {
    const key = this.keys[this.head]!;
    this.keys[this.head] = undefined;
    this.seen.delete(key);
    this.head = (this.head + 1) % this.maxKeys;
    this.size--;
  }
}
