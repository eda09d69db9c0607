import { systemClock } from '../../time/clock.js';
import { KvConflictError, type KeyValueStore, type KvEntry, type KvWatch } from '../key-value.js';

interface Watcher {
  readonly tokens: readonly string[];
  readonly onEntry: (entry: KvEntry) => void;
}

/** True when the dot-separated `key` matches `pattern` (`*` one token, `>` the rest). */
function matches(pattern: readonly string[], key: string): boolean {
  const tokens = key.split('.');
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i];
    if (p === '>') return tokens.length > i;
    if (i >= tokens.length || (p !== '*' && p !== tokens[i])) return false;
  }
  return tokens.length === pattern.length;
}

/**
 * A key-value bucket in this process: a Map with one revision counter for the whole bucket (as a
 * JetStream stream's sequence), compare-and-set on revisions, and watches delivered on a microtask
 * (never inside the writer's call, as with NATS).
 * @example
 * const kv = new MemoryKeyValue('bulwark_breakers');
 * const rev = await kv.create('accounts.stripe', new TextEncoder().encode('{}'));
 * await kv.update('accounts.stripe', value, rev); // throws KvConflictError if someone wrote in between
 */
export class MemoryKeyValue implements KeyValueStore {
  private readonly entries = new Map<string, KvEntry>();
  private readonly watchers = new Set<Watcher>();
  private revision = 0;

  /**
   * @param bucket - the bucket's name
   * @param clock - stamps each entry's `created` @default the system clock
   */
  constructor(
    readonly bucket: string,
    private readonly clock: { now(): number } = systemClock,
  ) {}

  async get(key: string): Promise<KvEntry | null> {
    const entry = this.entries.get(key);
    return entry && entry.operation === 'PUT' ? entry : null;
  }

  async put(key: string, value: Uint8Array): Promise<number> {
    return this.write(key, value, 'PUT');
  }

  /** @throws {KvConflictError} when the key exists */
  async create(key: string, value: Uint8Array): Promise<number> {
    if (this.entries.get(key)?.operation === 'PUT') throw new KvConflictError(key);
    return this.write(key, value, 'PUT');
  }

  /** @throws {KvConflictError} when the key's revision is not `revision` */
  async update(key: string, value: Uint8Array, revision: number): Promise<number> {
    if (this.entries.get(key)?.revision !== revision) throw new KvConflictError(key);
    return this.write(key, value, 'PUT');
  }

  /** @throws {KvConflictError} when `revision` is given and the key's revision is not it */
  async delete(key: string, revision?: number): Promise<void> {
    if (revision !== undefined && this.entries.get(key)?.revision !== revision)
      throw new KvConflictError(key);
    if (this.entries.has(key)) this.write(key, new Uint8Array(0), 'DEL');
  }

  async keys(): Promise<string[]> {
    return [...this.entries.values()].filter((e) => e.operation === 'PUT').map((e) => e.key);
  }

  watch(key: string, onEntry: (entry: KvEntry) => void): KvWatch {
    const watcher: Watcher = { tokens: key.split('.'), onEntry };
    this.watchers.add(watcher);
    // An in-process bucket cannot go away under its watchers.
    return {
      ready: Promise.resolve(),
      ended: new Promise<void>(() => undefined),
      stop: () => this.watchers.delete(watcher),
    };
  }

  private write(key: string, value: Uint8Array, operation: KvEntry['operation']): number {
    const revision = ++this.revision;
    const entry: KvEntry = { key, value: value.slice(), revision, operation, created: this.clock.now() };
    this.entries.set(key, entry);
    for (const watcher of this.watchers) {
      if (!matches(watcher.tokens, key)) continue;
      queueMicrotask(() => {
        if (this.watchers.has(watcher)) watcher.onEntry(entry);
      });
    }
    return entry.revision;
  }
}
