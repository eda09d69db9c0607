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
