import { ClosedError } from '../errors.js';
import { uuidv7 } from '../events/ids.js';
import type { Logger } from '../logging.js';
import type { Clock } from '../time/clock.js';
import type { KeyValueStore } from '../transport/key-value.js';
import { checkLock, leaseKey, tryAcquire, type LeaseValue, type LockOptions } from './lease.js';
import { HeldLock, type Lock } from './lock.js';
import { LeaseWatch } from './watch.js';

/** What a runtime's locks run with. */
export interface LocksEnv {
  readonly clock: Clock;
  readonly logger: Logger;
  /** Opens the bucket leases live in (once, on first use). */
  readonly keyValue: () => Promise<KeyValueStore>;
}

/**
 * Distributed locks over a key-value bucket with compare-and-set (see `lease.ts`): one holder per
 * name across every instance sharing the bucket.
 * @example
 * const locks = new Locks({ clock, logger, keyValue: () => transport.keyValue('bulwark_locks') });
 * const lock = await locks.acquire('nightly-report', { ttlMs: 30_000 });
 */
export class Locks {
  private store: Promise<KeyValueStore> | undefined;
  private readonly held = new Set<HeldLock>();
  private readonly watches = new Map<string, LeaseWatch>();
  private closed = false;

  constructor(private readonly env: LocksEnv) {}

  /**
   * Takes lock `name`, waiting up to `waitMs` for it to be released or to expire.
   * @returns the lock, or null when another holder kept it for `waitMs`
   * @throws {ValidationError} for a bad name or options
   * @throws {ClosedError} after `close()`
   */
  async acquire(name: string, o: LockOptions): Promise<Lock | null> {
    checkLock(name, o);
    this.assertOpen();
    const kv = await (this.store ??= this.open());
    const { clock } = this.env;
    const key = leaseKey(name);
    const value: LeaseValue = { holder: uuidv7(), ttlMs: o.ttlMs };
    const deadline = clock.now() + (o.waitMs ?? 0);
    let watch: LeaseWatch | undefined;
    try {
      for (;;) {
        const seen = watch?.changes ?? 0;
        const sentAt = clock.now();
        const attempt = await tryAcquire(kv, key, value);
        if (attempt.acquired) return this.hold(kv, name, value, attempt.revision, sentAt);
        const leftMs = deadline - clock.now();
        if (leftMs <= 0) return null;
        if (watch) await watch.changed(seen, Math.min(leftMs, attempt.leftMs + 1));
        else await (watch = this.watchOf(kv, key)).ready(leftMs); // then look again
      }
    } finally {
      watch?.release();
    }
  }

  /**
   * Runs `fn` holding lock `name`, then releases it.
   * @returns what `fn` returned, or null when the lock was not acquired within `waitMs`
   * @throws what `fn` threw; a {@link LockLostError} when the lease was lost while `fn` ran
   */
  async withLock<T>(
    name: string,
    fn: (signal: AbortSignal, token: number) => T | Promise<T>,
    o: LockOptions,
  ): Promise<T | null> {
    const lock = await this.acquire(name, o);
    if (!lock) return null;
    try {
      const result = await fn(lock.signal, lock.token);
      if (lock.signal.aborted) throw lock.signal.reason;
      return result;
    } finally {
      await lock.release();
    }
  }

  /** Releases every held lock, aborting their signals; later acquires throw. Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    for (const watch of this.watches.values()) watch.stop();
    this.watches.clear();
    await Promise.all([...this.held].map((l) => l.close('was released: the runtime is shutting down')));
  }

  private hold(kv: KeyValueStore, name: string, value: LeaseValue, revision: number, sentAt: number): Lock {
    const { clock, logger } = this.env;
    const lock = new HeldLock(
      { kv, clock, logger, done: (l) => this.held.delete(l) },
      name,
      value,
      revision,
      sentAt,
    );
    this.held.add(lock);
    if (this.closed) void lock.close('was released: the runtime is shutting down');
    return lock;
  }

  /** The watch on `key` shared by this process's waiters, counted as used by the caller. */
  private watchOf(kv: KeyValueStore, key: string): LeaseWatch {
    let watch = this.watches.get(key);
    if (!watch) {
      const created = new LeaseWatch(kv, key, this.env.clock, () => {
        this.watches.delete(key);
        created.stop();
      });
      this.watches.set(key, (watch = created));
    }
    watch.use();
    return watch;
  }

  private open(): Promise<KeyValueStore> {
    const opened = this.env.keyValue();
    opened.catch(() => (this.store = undefined));
    return opened;
  }

  private assertOpen(): void {
    if (this.closed) throw new ClosedError('locks are closed: the runtime is shutting down');
  }
}
