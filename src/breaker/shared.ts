import type { Env } from '../env.js';
import { randomUUID } from 'node:crypto';
import type { CircuitBreakerEvent, CircuitBreakerStateName } from '../machines/circuit-breaker.machine.js';
import { KvConflictError, type KeyValueStore, type KvEntry, type KvWatch } from '../transport/key-value.js';
import type { BreakerEnvironment, SharedMode } from './options.js';
import { decodeShared, encodeShared, type SharedValue } from './shared-format.js';

/** First wait before opening a bucket again that could not be opened; it doubles up to the max. */
const ATTACH_RETRY_MS = 2_000;
const MAX_ATTACH_RETRY_MS = 60_000;

/**
 * The event a peer's write means for a breaker that is in `local`; undefined when none.
 * A peer's automatic states do not override a manual one here, while manual writes do.
 */
export function peerEvent(
  value: SharedValue,
  local: CircuitBreakerStateName,
  remainingMs: number,
): CircuitBreakerEvent | undefined {
  const automatic = local === 'CLOSED' || local === 'OPEN' || local === 'HALF_OPEN';
  switch (value.s) {
    case 'FORCED_OPEN':
      return { type: 'manual.open' };
    case 'FORCED_CLOSED':
      return { type: 'manual.close' };
    case 'CLOSED':
      if (value.manual) return { type: 'manual.reset' };
      return local === 'OPEN' || local === 'HALF_OPEN' ? { type: 'peer.closed' } : undefined;
    case 'OPEN':
      return automatic && local !== 'OPEN' ? { type: 'peer.opened', remainingMs } : undefined;
    case 'HALF_OPEN':
      return local === 'CLOSED' ? { type: 'peer.opened', remainingMs: 0 } : undefined;
  }
}

/** What a breaker lets its shared state see and do. */
export interface SharedHost extends Pick<Env, 'clock' | 'logger'> {
  readonly name: string;
  readonly resetTimeoutMs: number;
  /** The local machine's state. */
  state(): CircuitBreakerStateName;
  /** Sends a peer's event to the local machine without writing it back; `openedAt` is the peer's. */
  applyPeer(event: CircuitBreakerEvent, openedAt: number | undefined): void;
}

/** The answer of {@link SharedState.trialClaim}. */
export type TrialClaim = 'owned' | 'pending' | 'peer' | 'unclaimed';

/**
 * Keeps one breaker's state in a KV bucket: writes local transitions, applies peers' through a
 * watch, and claims the HALF_OPEN trial with a compare-and-set so that one instance runs it. Any
 * KV error switches to local state (`local-degraded`) until a later write succeeds, which also
 * re-reads the bucket; a bucket that could not be opened is tried again with backoff.
 */
export class SharedState {
  mode: SharedMode = 'connecting';
  /** Resolves once the bucket's state is applied and watched, or the breaker fell back to local. */
  readonly ready: Promise<void>;
  private store: KeyValueStore | undefined;
  private watch: KvWatch | undefined;
  private stopped = false;
  private claim: 'none' | 'pending' | 'owned' = 'none';
  /** When this instance's claim on the trial lapses (peers may claim it then). */
  private ownedUntil = 0;
  private peerTrialUntil = 0;
  private lastRevision = 0;
  private unsent:
    { state: CircuitBreakerStateName; openedAt: number | undefined; manual: boolean } | undefined;
  private attachTimer: unknown;
  private attachRetryMs = ATTACH_RETRY_MS;

  /** @param retryAttach - open the bucket again with backoff after a failure (false: none is configured) */
  constructor(
    private readonly host: SharedHost,
    /** `fresh`: open it anew (it was deleted), not the handle already open. */
    private readonly openStore: (fresh: boolean) => Promise<KeyValueStore>,
    private readonly key: string,
    private readonly instanceId: string,
    private readonly retryAttach = true,
    /** The bucket every prefix shared before, read once for a key the bucket lacks. */
    private readonly openLegacy?: () => Promise<KeyValueStore>,
  ) {
    this.ready = this.attach();
  }

  /** Whether this instance may run a HALF_OPEN trial now, must claim it first, or must refuse. */
  trialClaim(now: number): TrialClaim {
    if (this.mode !== 'shared') return 'owned';
    if (this.claim === 'owned' && now >= this.ownedUntil) this.claim = 'none';
    if (this.claim !== 'none') return this.claim;
    return this.peerTrialUntil > now ? 'peer' : 'unclaimed';
  }

  /**
   * Claims the HALF_OPEN trial in the bucket.
   * @returns true when this instance won it (or the bucket failed and local state decides)
   */
  async claimTrial(): Promise<boolean> {
    const store = this.store;
    if (!store || this.mode !== 'shared') return true;
    this.claim = 'pending';
    try {
      const entry = await store.get(this.key);
      const current = decodeShared(entry);
      const now = this.host.clock.now();
      if (current && current.by !== this.instanceId && this.peerHolds(current, now)) return this.lose();
      const until = now + Math.max(this.host.resetTimeoutMs, 1_000);
      const next: SharedValue = {
        s: 'HALF_OPEN',
        at: current?.at,
        by: this.instanceId,
        trial: { by: this.instanceId, until },
      };
      const bytes = encodeShared(next);
      await (entry ? store.update(this.key, bytes, entry.revision) : store.create(this.key, bytes));
      if (this.claim !== 'pending') return false;
      this.claim = 'owned';
      this.ownedUntil = until;
      return true;
    } catch (err) {
      if (err instanceof KvConflictError) return this.lose();
      this.degrade(err);
      return true;
    }
  }

  /** Writes a local transition; HALF_OPEN is not written (every instance enters it on its own timer). */
  publish(state: CircuitBreakerStateName, openedAt: number | undefined, manual: boolean): void {
    this.claim = 'none';
    if (this.stopped || state === 'HALF_OPEN') return;
    const value: SharedValue = { s: state, at: openedAt, by: this.instanceId, ...(manual ? { manual } : {}) };
    const store = this.store;
    if (!store) {
      // Still connecting: remember the latest transition and write it once attached.
      this.unsent = { state, openedAt, manual };
      return;
    }
    this.unsent = undefined;
    store.put(this.key, encodeShared(value)).then(
      () => this.recover(),
      (err: unknown) => this.degrade(err),
    );
  }

  /** Stops the watch; idempotent. */
  stop(): void {
    this.stopped = true;
    this.watch?.stop();
    if (this.attachTimer !== undefined) this.host.clock.clearTimeout(this.attachTimer);
    this.attachTimer = undefined;
  }

  private async attach(fresh = false): Promise<void> {
    try {
      const store = await this.openStore(fresh);
      if (this.stopped) return;
      const watch = store.watch(this.key, (entry) => this.onEntry(entry));
      this.watch = watch;
      void watch.ended.then(() => this.lostWatch(watch));
      await watch.ready;
      const entry = await store.get(this.key);
      if (entry) this.onEntry(entry);
      else await this.adoptLegacy(store);
      this.store = store;
      if (!this.stopped) this.mode = 'shared';
      const unsent = this.unsent;
      if (unsent && this.host.state() === unsent.state)
        this.publish(unsent.state, unsent.openedAt, unsent.manual);
    } catch (err) {
      this.watch?.stop();
      this.watch = undefined;
      this.degrade(err);
      this.scheduleAttach();
    }
  }

  /**
   * Copies this breaker's value from the bucket every prefix shared before (a state forced there
   * outlives the upgrade); the watch then applies it like a peer's write. Best effort: a missing
   * legacy bucket, or a peer that wrote first, leaves the bucket as it is.
   */
  private async adoptLegacy(store: KeyValueStore): Promise<void> {
    if (!this.openLegacy) return;
    try {
      const legacy = await this.openLegacy();
      const value = decodeShared(await legacy.get(this.key));
      if (value) await store.create(this.key, encodeShared(value));
    } catch {
      // no legacy bucket, or the key is already in the new one: nothing to adopt
    }
  }

  /** The bucket's watch ended (the bucket was deleted): local state until it is back. */
  private lostWatch(watch: KvWatch): void {
    if (this.stopped || this.watch !== watch) return;
    this.watch = undefined;
    this.store = undefined;
    this.degrade(new Error('the shared breakers bucket is gone; watching it again'));
    this.attachRetryMs = ATTACH_RETRY_MS;
    this.scheduleAttach(true);
  }

  /** Opens the bucket again later; the timer does not keep the process alive. */
  private scheduleAttach(fresh = false): void {
    if (this.stopped || !this.retryAttach) return;
    const delay = this.attachRetryMs;
    this.attachRetryMs = Math.min(delay * 2, MAX_ATTACH_RETRY_MS);
    const timer = this.host.clock.setTimeout(() => {
      this.attachTimer = undefined;
      void this.attach(fresh).then(() => {
        if (this.mode === 'shared') this.restored();
      });
    }, delay);
    (timer as { unref?: () => void } | undefined)?.unref?.();
    this.attachTimer = timer;
  }

  private onEntry(entry: KvEntry): void {
    if (this.stopped || entry.revision <= this.lastRevision) return;
    this.lastRevision = entry.revision;
    const value = decodeShared(entry);
    if (!value) return;
    const trial = value.trial;
    this.peerTrialUntil = trial && trial.by !== this.instanceId ? trial.until : 0;
    if (value.by === this.instanceId) return;
    const remainingMs = (value.at ?? 0) + this.host.resetTimeoutMs - this.host.clock.now();
    const event = peerEvent(value, this.host.state(), remainingMs);
    if (event) this.host.applyPeer(event, value.at);
  }

  private peerHolds(current: SharedValue, now: number): boolean {
    if (current.trial && current.trial.until > now) {
      this.peerTrialUntil = current.trial.until;
      return true;
    }
    // A peer closed it, forced it, or reopened it lately: its write is on the way to our watch.
    return (
      current.s !== 'HALF_OPEN' &&
      !(current.s === 'OPEN' && (current.at ?? 0) + this.host.resetTimeoutMs <= now)
    );
  }

  private lose(): false {
    if (this.claim === 'pending') this.claim = 'none';
    return false;
  }

  private recover(): void {
    if (this.mode !== 'local-degraded' || this.stopped) return;
    this.mode = 'shared';
    this.restored();
    // Peers may have written while this instance could not: catch up with the bucket.
    this.store?.get(this.key).then(
      (entry) => entry && this.onEntry(entry),
      () => undefined,
    );
  }

  private restored(): void {
    this.host.logger.info({ breaker: this.host.name }, 'shared breaker state restored');
  }

  private degrade(err: unknown): void {
    this.claim = 'none';
    if (this.stopped || this.mode === 'local-degraded') return;
    this.mode = 'local-degraded';
    this.host.logger.warn(
      { err, breaker: this.host.name },
      'shared breaker state unavailable; using local state',
    );
  }
}

/**
 * Starts the shared state of a `shared: true` breaker; without a bucket in `env` it reports
 * `local-degraded` and logs why.
 */
export function startSharedState(host: SharedHost, env: BreakerEnvironment): SharedState {
  const keyValue =
    env.keyValue ??
    (() => Promise.reject(new Error('no key-value bucket is configured for shared breakers')));
  const key = env.sharedKey ?? host.name;
  const instanceId = env.instanceId ?? randomUUID();
  return new SharedState(host, keyValue, key, instanceId, env.keyValue !== undefined, env.legacyKeyValue);
}
