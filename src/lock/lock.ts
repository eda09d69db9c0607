import { LockLostError, ValidationError } from '../errors.js';
import type { Logger } from '../logging.js';
import type { Clock } from '../time/clock.js';
import { KvConflictError, type KeyValueStore } from '../transport/key-value.js';
import { encodeLease, leaseKey, MIN_TTL_MS, type LeaseValue } from './lease.js';

/**
 * A held lock: `rt.lock` resolves with one. Its lease renews itself every third of `ttlMs` while
 * it is held; `signal` aborts with a {@link LockLostError} when the lease is lost.
 */
export interface Lock {
  readonly name: string;
  /** The fencing token: larger than every earlier holder's. Pass it to what the lock guards. */
  readonly token: number;
  /** Aborted (with a {@link LockLostError}) when the lease is lost. */
  readonly signal: AbortSignal;
  /**
   * Renews the lease now, for `ttlMs` from now (and from then on).
   * @param ttlMs - the new lease length @default the current one
   * @throws {LockLostError} when the lease is already lost, is found taken, or cannot be written
   * @throws {ValidationError} for a `ttlMs` below 10
   */
  extend(ttlMs?: number): Promise<void>;
  /** Gives the lease up, if still held; idempotent (a second call returns the same promise). */
  release(): Promise<void>;
}

/** What a held lock runs with. */
export interface HeldLockEnv {
  readonly kv: KeyValueStore;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Called once the lock is released or lost. */
  readonly done: (lock: HeldLock) => void;
}

/**
 * A lease held by this process. The holder's own deadline is `ttlMs` after it *sent* its last
 * successful write: the store stamped that write later, so the holder always gives up before any
 * other instance may take over (clocks are assumed to run at the same rate, not to agree).
 */
export class HeldLock implements Lock {
  readonly token: number;
  private readonly controller = new AbortController();
  private readonly key: string;
  private revision: number;
  private ttlMs: number;
  private renewTimer: unknown;
  private deadlineTimer: unknown;
  /** KV writes run one at a time, so each compares against the revision the previous one wrote. */
  private chain: Promise<unknown> = Promise.resolve();
  private released: Promise<void> | undefined;
  private lost = false;

  constructor(
    private readonly env: HeldLockEnv,
    readonly name: string,
    private readonly value: LeaseValue,
    revision: number,
    sentAt: number,
  ) {
    this.key = leaseKey(name);
    this.revision = revision;
    this.ttlMs = value.ttlMs;
    this.token = revision;
    this.armDeadline(sentAt);
    this.scheduleRenewal();
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Held: neither released nor lost. */
  get held(): boolean {
    return this.released === undefined && !this.lost;
  }

  extend(ttlMs = this.ttlMs): Promise<void> {
    if (!Number.isSafeInteger(ttlMs) || ttlMs < MIN_TTL_MS)
      return Promise.reject(
        new ValidationError(`lock "${this.name}": ttlMs must be an integer of at least ${MIN_TTL_MS}`),
      );
    if (!this.held) return Promise.reject(this.lostError('is no longer held'));
    this.ttlMs = ttlMs;
    return this.serial(() => this.renew(true));
  }

  release(): Promise<void> {
    return (this.released ??= this.giveUp());
  }

  /** Ends the lock as lost: renewal stops and `signal` aborts with `reason`. */
  lose(reason: string, cause?: unknown): void {
    if (!this.held) return;
    this.lost = true;
    this.stopTimers();
    const err = this.lostError(reason, cause);
    this.env.logger.warn({ lock: this.name, token: this.token, err }, 'lock lost');
    this.controller.abort(err);
    this.env.done(this);
  }

  /** Releases the lease and aborts `signal`: work still running under the lock must stop. */
  close(reason: string): Promise<void> {
    const released = this.release();
    if (!this.controller.signal.aborted) this.controller.abort(this.lostError(reason));
    return released;
  }

  private lostError(reason: string, cause?: unknown): LockLostError {
    const message = `lock "${this.name}" (token ${this.token}) ${reason}`;
    return new LockLostError(this.name, this.token, message, cause === undefined ? undefined : { cause });
  }

  private async giveUp(): Promise<void> {
    this.stopTimers();
    await this.chain.catch(() => undefined);
    this.env.done(this);
    if (this.lost) return;
    try {
      await this.env.kv.delete(this.key, this.revision);
    } catch (err) {
      // Taken meanwhile, or the store is unreachable: either way the lease ends without us.
      if (!(err instanceof KvConflictError))
        this.env.logger.warn({ lock: this.name, err }, 'lock release failed');
    }
  }

  private serial<T>(op: () => Promise<T>): Promise<T> {
    const run = this.chain.then(op, op);
    this.chain = run.catch(() => undefined);
    return run;
  }

  /** @throws {LockLostError} when `strict` and the lease is taken or the write fails */
  private async renew(strict: boolean): Promise<void> {
    if (!this.held) {
      if (strict) throw this.lostError('is no longer held');
      return;
    }
    const sentAt = this.env.clock.now();
    const value: LeaseValue = { ...this.value, ttlMs: this.ttlMs };
    try {
      this.revision = await this.env.kv.update(this.key, encodeLease(value), this.revision);
    } catch (err) {
      if (err instanceof KvConflictError) this.lose('was taken by another holder', err);
      else if (this.held) {
        this.env.logger.warn(
          { lock: this.name, err },
          'lock renewal failed; retrying until the lease runs out',
        );
        this.scheduleRenewal();
      }
      if (strict)
        throw this.held ? this.lostError('could not be renewed', err) : this.controller.signal.reason;
      return;
    }
    if (!this.held) return;
    this.armDeadline(sentAt);
    this.scheduleRenewal();
  }

  private scheduleRenewal(): void {
    const { clock } = this.env;
    clock.clearTimeout(this.renewTimer);
    this.renewTimer = clock.setTimeout(
      () => void this.serial(() => this.renew(false)),
      Math.floor(this.ttlMs / 3),
    );
  }

  private armDeadline(sentAt: number): void {
    const { clock } = this.env;
    clock.clearTimeout(this.deadlineTimer);
    const leftMs = sentAt + this.ttlMs - clock.now();
    this.deadlineTimer = clock.setTimeout(() => this.lose('expired before it could be renewed'), leftMs);
  }

  private stopTimers(): void {
    this.env.clock.clearTimeout(this.renewTimer);
    this.env.clock.clearTimeout(this.deadlineTimer);
  }
}
