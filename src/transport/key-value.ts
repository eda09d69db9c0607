/** One value in a key-value bucket. */
export interface KvEntry {
  readonly key: string;
  readonly value: Uint8Array;
  /** Increases with every write to the bucket; used for compare-and-set. */
  readonly revision: number;
  readonly operation: 'PUT' | 'DEL' | 'PURGE';
  /**
   * When the store wrote it (ms since the epoch), on the store's clock: NATS, the server's; memory,
   * the transport's. Comparable across instances, unlike each instance's own clock.
   */
  readonly created?: number;
}

/** A watch on a bucket; `stop()` ends it. */
export interface KvWatch {
  stop(): void;
  /** Resolves once changes are being delivered (a NATS watch needs a round trip to start). */
  readonly ready: Promise<void>;
  /**
   * Resolves if the watch ends without `stop()` (its bucket was deleted, the server gave up on it):
   * changes are no longer delivered, and the watcher must watch again.
   */
  readonly ended: Promise<void>;
}

/**
 * A key-value bucket with compare-and-set: NATS KV on JetStream, a Map in memory.
 * Keys are dot-separated tokens.
 */
export interface KeyValueStore {
  readonly bucket: string;
  get(key: string): Promise<KvEntry | null>;
  /** @returns the new revision */
  put(key: string, value: Uint8Array): Promise<number>;
  /** Writes only when the key does not exist. @throws {KvConflictError} when it does */
  create(key: string, value: Uint8Array): Promise<number>;
  /** Writes only when the key's revision is `revision`. @throws {KvConflictError} otherwise */
  update(key: string, value: Uint8Array, revision: number): Promise<number>;
  /**
   * Deletes the key; with `revision`, only while the key's revision is still that one.
   * @throws {KvConflictError} when `revision` is given and the key has changed
   */
  delete(key: string, revision?: number): Promise<void>;
  keys(): Promise<string[]>;
  /** Calls `onEntry` for every later change to keys matching `key` (`'>'` for all). */
  watch(key: string, onEntry: (entry: KvEntry) => void): KvWatch;
}

/** A compare-and-set lost the race. */
export class KvConflictError extends Error {
  constructor(
    readonly key: string,
    message = `key "${key}" changed concurrently`,
  ) {
    super(message);
    this.name = 'KvConflictError';
  }
}
