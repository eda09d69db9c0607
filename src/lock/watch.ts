import type { Clock } from '../time/clock.js';
import type { KeyValueStore, KvWatch } from '../transport/key-value.js';

/** How long a watch on a lease outlives its last waiter: a lock taken in a loop keeps one watch. */
const LINGER_MS = 5_000;

/**
 * One watch per lease key, shared by every acquirer of this process that waits on it. `changes`
 * counts the lease's writes seen: an acquirer notes it before looking at the lease, and a wait
 * returns at once if it moved since, so a release between the look and the wait is not missed.
 */
export class LeaseWatch {
  changes = 0;
  private readonly watch: KvWatch;
  private readonly waiters = new Set<() => void>();
  private users = 0;
  private idle: unknown;

  constructor(
    kv: KeyValueStore,
    key: string,
    private readonly clock: Clock,
    private readonly onIdle: () => void,
  ) {
    this.watch = kv.watch(key, () => {
      this.changes++;
      for (const wake of this.waiters) wake();
    });
  }

  /** Resolves once changes are delivered, or after `ms`, whichever comes first. */
  ready(ms: number): Promise<void> {
    return this.bounded(
      this.watch.ready.catch(() => undefined),
      ms,
    );
  }

  /** Resolves when the lease changes after `seen` (at once if it has), or after `ms`. */
  async changed(seen: number, ms: number): Promise<void> {
    if (this.changes !== seen) return;
    let wake!: () => void;
    const change = new Promise<void>((resolve) => (wake = resolve));
    this.waiters.add(wake);
    try {
      await this.bounded(change, ms);
    } finally {
      this.waiters.delete(wake);
    }
  }

  /** Counts a user; the watch stays while there is one, and {@link LINGER_MS} after the last. */
  use(): void {
    this.users++;
    this.clock.clearTimeout(this.idle);
  }

  release(): void {
    if (--this.users > 0) return;
    this.idle = this.clock.setTimeout(() => this.onIdle(), LINGER_MS);
    // Lingering is an optimisation: it must not keep the process alive.
    (this.idle as { unref?: () => void } | undefined)?.unref?.();
  }

  stop(): void {
    this.clock.clearTimeout(this.idle);
    this.watch.stop();
    for (const wake of this.waiters) wake();
  }

  private async bounded(p: Promise<void>, ms: number): Promise<void> {
    let timer: unknown;
    const late = new Promise<void>((resolve) => (timer = this.clock.setTimeout(resolve, ms)));
    await Promise.race([p, late]);
    this.clock.clearTimeout(timer);
  }
}
