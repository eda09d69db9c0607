import type { Inspect } from '../env.js';
import { randomUUID } from 'node:crypto';
import type { Clock } from '../time/clock.js';
import { ClosedError } from '../errors.js';
import type { Logger } from '../logging.js';
import type { KeyValueStore } from '../transport/key-value.js';
import { Breaker } from './breaker.js';
import type { BreakerEnvironment, BreakerOptions, BreakerStats, CallTimings } from './options.js';
import { LEGACY_SHARED_BREAKER_BUCKET, sharedBreakerBucket, sharedKey } from './shared-format.js';

/** Options of {@link BreakerRegistry}. */
export interface BreakerRegistryOptions {
  /** The service's name: shared breakers are keyed `<service>.<breaker>` in the bucket. */
  service: string;
  logger: Logger;
  /** @default systemClock */
  clock?: Clock;
  /** Given to every breaker's actor. */
  inspect?: Inspect;
  /**
   * Opens a KV bucket for `shared: true` breakers (without it they stay local and say so);
   * `create: false` opens one only if it exists.
   */
  keyValue?: (bucket: string, options?: { readonly create?: boolean }) => Promise<KeyValueStore>;
  /** The bucket of shared breakers: one per transport prefix. @default sharedBreakerBucket() */
  bucket?: string;
  /**
   * Called with every breaker the registry creates, and the options it was made with (the
   * runtime registers metrics and health).
   */
  onCreate?: (breaker: Breaker, options: BreakerOptions | undefined) => void;
  /** Told when `protect()` wraps an adapter with one of these breakers. */
  onProtected?: (breaker: Breaker, adapter: string) => void;
  /** Receives a sample of every breaker's call durations (the runtime's metrics). */
  timings?: CallTimings;
  /**
   * Watches the health check named `check` for a breaker's `healthCheck` option: calls `listener`
   * with whether it is healthy now (when known) and on every change of that.
   * @returns a function that stops watching
   */
  watchCheck?: (check: string, listener: (healthy: boolean) => void) => () => void;
}

/** Read access to a registry's circuit breakers (`rt.breakers`). */
export interface BreakerDirectory {
  /** @returns every breaker's stats, by name */
  stats(): Record<string, BreakerStats>;
  list(): Breaker[];
  get(name: string): Breaker | undefined;
}

/**
 * One runtime's breakers by name, with the clock, logger, inspector and KV bucket they share.
 * @example
 * const breakers = new BreakerRegistry({ service: 'accounts', logger, keyValue: (b) => openNatsKeyValue(nc, b) });
 * const stripe = breakers.get('stripe', { shared: true, timeoutMs: 5_000 });
 */
export class BreakerRegistry {
  private readonly breakers = new Map<string, Breaker>();
  /** Ends each `healthCheck` breaker's watch of its check. */
  private readonly unwatch: (() => void)[] = [];
  /** Read-only view: stats, list, and lookup by name without creating. */
  readonly directory: BreakerDirectory = {
    stats: () => this.stats(),
    list: () => this.list(),
    get: (name) => this.find(name),
  };
  /** Tells this runtime's writes to shared state apart from its peers'. */
  readonly instanceId = randomUUID();
  private bucket: Promise<KeyValueStore> | undefined;
  private closed: Promise<void> | undefined;

  constructor(private readonly opts: BreakerRegistryOptions) {}

  /**
   * The breaker named `name`, created with `options` the first time (later options are ignored).
   * @throws {ValidationError} when an option is out of range
   * @throws {ClosedError} after `close()`
   */
  get(name: string, options?: BreakerOptions): Breaker {
    const existing = this.breakers.get(name);
    if (existing) return existing;
    if (this.closed) throw new ClosedError('the breaker registry is closed');
    const { clock, inspect, logger, service } = this.opts;
    const shared = options?.shared === true;
    if (shared && !this.opts.keyValue) {
      logger.warn({ breaker: name }, 'shared breaker without a key-value bucket: its state stays local');
    }
    const { onProtected, timings } = this.opts;
    const breaker: Breaker = new Breaker(name, options, {
      ...(clock ? { clock } : {}),
      ...(inspect ? { inspect } : {}),
      logger,
      ...(shared && this.opts.keyValue ? this.bucketsOf(this.opts.keyValue) : {}),
      sharedKey: sharedKey(service, name),
      instanceId: this.instanceId,
      ...(timings && { timings }),
      ...(onProtected &&
        options?.health !== false && { onProtected: (adapter: string) => onProtected(breaker, adapter) }),
    });
    this.breakers.set(name, breaker);
    this.opts.onCreate?.(breaker, options);
    this.follow(breaker, options?.healthCheck);
    return breaker;
  }

  /** Links a breaker to the health check it follows (`healthCheck`). */
  private follow(breaker: Breaker, check: string | undefined): void {
    if (check === undefined) return;
    if (!this.opts.watchCheck) {
      this.opts.logger.warn(
        { breaker: breaker.name, check },
        'no health monitor: the breaker follows no check',
      );
      return;
    }
    this.unwatch.push(this.opts.watchCheck(check, (healthy) => breaker.followHealth(healthy)));
  }

  /** @returns the breaker named `name`, if one was created; never creates one */
  find(name: string): Breaker | undefined {
    return this.breakers.get(name);
  }

  /** @returns every breaker's stats, by name */
  stats(): Record<string, BreakerStats> {
    const out: Record<string, BreakerStats> = {};
    for (const [name, breaker] of this.breakers) out[name] = breaker.stats();
    return out;
  }

  /** @returns every breaker, in creation order */
  list(): Breaker[] {
    return [...this.breakers.values()];
  }

  /** Stops every breaker's actor, reset timer and shared-state watch; idempotent. */
  close(): Promise<void> {
    this.closed ??= this.disposeAll();
    return this.closed;
  }

  private async disposeAll(): Promise<void> {
    for (const off of this.unwatch.splice(0)) off();
    for (const breaker of this.breakers.values()) breaker.dispose();
    this.breakers.clear();
  }

  /** The bucket a shared breaker keeps its state in, and the legacy one it still reads (when another). */
  private bucketsOf(open: NonNullable<BreakerRegistryOptions['keyValue']>): BreakerEnvironment {
    const legacy = (this.opts.bucket ?? sharedBreakerBucket()) !== LEGACY_SHARED_BREAKER_BUCKET;
    return {
      keyValue: (fresh?: boolean) => this.openBucket(fresh),
      ...(legacy && { legacyKeyValue: () => open(LEGACY_SHARED_BREAKER_BUCKET, { create: false }) }),
    };
  }

  /** One bucket for all shared breakers; a failed open is retried by the next breaker that needs it. */
  private openBucket(fresh = false): Promise<KeyValueStore> {
    const open = this.opts.keyValue;
    if (!open) return Promise.reject(new Error('no key-value bucket is configured'));
    if (!this.bucket || fresh) {
      this.bucket = open(this.opts.bucket ?? sharedBreakerBucket());
      this.bucket.catch(() => (this.bucket = undefined));
    }
    return this.bucket;
  }
}
