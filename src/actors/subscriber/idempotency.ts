import type { CloudEvent } from '../../events/cloudevent.js';
import { describeError, ValidationError } from '../../errors.js';
import { exponential } from '../../retry/backoff.js';
import type { Delivery, Transport } from '../../transport/transport.js';
import { openIdempotencyStore, type Claim, type IdempotencyStore } from './idempotency-store.js';
import type { EventMeta } from './meta.js';
import { deadLetter, type SettleContext } from './settle.js';

/** The `idempotency` option of `rt.subscribe`. */
export interface IdempotencyOptions<P = unknown> {
  /**
   * The event's idempotency key, e.g. `(p) => p.paymentId`. Keys are scoped to the group and the
   * subscribed type. Called once per delivery, before the handler. A key function that throws
   * or returns no non-empty string dead-letters the event at once with reason `'validation'` (the
   * event cannot be keyed; trying it again would not help).
   */
  key: (payload: P, meta: EventMeta) => string;
  /** How long a success is remembered: a duplicate within this window is acked, not handled. */
  ttlMs: number;
}

/** A single-event handler (as `pipeline.ts` calls it). */
type Handler = (payload: unknown, meta: EventMeta) => unknown;

const TOKEN = /^[A-Za-z0-9_-]+$/;
/** One key-value token per part: names that are not tokens are encoded, never merged. */
const token = (s: string): string => (TOKEN.test(s) ? s : `=${Buffer.from(s).toString('base64url')}`);

/** How soon a delivery whose key another run holds comes back to look again. */
const BUSY_BACKOFF = exponential({ initialMs: 50, maxMs: 2_000, jitter: 'equal' });

/** What a guard needs from its subscription. */
export interface GuardContext extends SettleContext {
  /** How long a run's claim holds before another instance may take the key (a crashed run). */
  readonly leaseMs: number;
  /** Counts a skipped duplicate (stats and metrics). */
  readonly onDuplicate: () => void;
}

/**
 * At most one successful run per key within `ttlMs`, across the instances of a group: before the
 * handler a claim (create-if-absent), after its success a `done` mark written before the ack,
 * after its failure the claim released so the retry may run.
 */
export class IdempotencyGuard {
  private store: Promise<IdempotencyStore> | undefined;
  /** The claim each admitted delivery holds, by its meta (what the handler is called with). */
  private readonly claims = new WeakMap<object, { key: string; revision: number }>();
  private readonly scope: string;

  /** @throws {ValidationError} when `options` are not a key function and a positive ttl */
  constructor(
    private readonly options: IdempotencyOptions<any>,
    private readonly open: () => Promise<IdempotencyStore>,
    private readonly ctx: GuardContext,
  ) {
    checkIdempotency(options);
    this.scope = `${token(ctx.group)}.${token(ctx.type)}.`;
  }

  private storeOf(): Promise<IdempotencyStore> {
    if (this.store) return this.store;
    const opened = (this.store = this.open());
    opened.catch(() => (this.store = undefined));
    return opened;
  }

  private keyOf(payload: unknown, meta: EventMeta): string {
    const key = this.options.key(payload, meta);
    if (typeof key !== 'string' || key.length === 0)
      throw new ValidationError(`idempotency key of event ${meta.id} is not a non-empty string`);
    return this.scope + token(key);
  }

  /** The key of an event's busy count: one level below the idempotency keys, which have no dot. */
  private busyKey(event: CloudEvent): string {
    return `${this.scope}busy.${token(event.id)}`;
  }

  /**
   * Claims the delivery's key: calls `run` when the handler may run, with how many of the
   * delivery's earlier rounds were not tries (sent back while another run held the key); else acks
   * a duplicate, sends a delivery whose key is held back for later (that round counted apart, so it
   * spends none of the handler's attempts), or dead-letters an event that cannot be keyed.
   */
  async admit(
    delivery: Delivery,
    event: CloudEvent,
    payload: unknown,
    meta: EventMeta,
    run: (notTries: number) => void,
  ) {
    let key: string;
    try {
      key = this.keyOf(payload, meta);
    } catch (err) {
      return deadLetter(this.ctx, delivery, event, 'validation', describeError(err), undefined);
    }
    let claim: Claim;
    let notTries: number;
    const now = this.ctx.clock.now();
    try {
      const store = await this.storeOf();
      // Only a redelivery may have had rounds that were not tries.
      [claim, notTries] = await Promise.all([
        store.claim(key, now, now + this.ctx.leaseMs),
        delivery.attempt > 1 ? store.busyCount(this.busyKey(event), now) : 0,
      ]);
    } catch (err) {
      this.ctx.logger.warn({ err, eventId: event.id }, 'idempotency store failed; delivery sent back');
      return delivery.nak(this.ctx.backoff.delay(delivery.attempt));
    }
    if (claim.state === 'busy') return this.heldElsewhere(delivery, event, now);
    if (claim.state === 'done') {
      this.ctx.onDuplicate();
      return delivery.ack();
    }
    this.claims.set(meta, { key, revision: claim.revision });
    run(Math.min(notTries, delivery.attempt - 1));
  }

  /**
   * Another run holds the event's key: the delivery comes back later. The round is counted apart
   * first, so that it is not taken for a try of the handler; if that count cannot be stored the
   * delivery comes back all the same (the round then counts as a try: nothing is lost).
   */
  private async heldElsewhere(delivery: Delivery, event: CloudEvent, now: number): Promise<void> {
    let rounds = delivery.attempt;
    try {
      rounds = await (await this.storeOf()).busy(this.busyKey(event), now + this.options.ttlMs);
    } catch (err) {
      this.ctx.logger.warn({ err, eventId: event.id }, 'busy round not counted; it counts as a try');
    }
    delivery.nak(BUSY_BACKOFF.delay(rounds));
  }

  /** The handler, marking its key done after a success and releasing it after a failure. */
  wrap(handler: Handler): Handler {
    return async (payload, meta) => {
      const claim = this.claims.get(meta);
      // Only admitted deliveries reach the handler; without a claim there is nothing to record.
      if (!claim) return handler(payload, meta);
      const store = await this.storeOf();
      try {
        const out: unknown = await handler(payload, meta);
        await store.done(claim.key, this.ctx.clock.now() + this.options.ttlMs);
        return out;
      } catch (err) {
        store
          .release(claim.key, claim.revision)
          .catch((e: unknown) => this.ctx.logger.warn({ err: e }, 'idempotency claim not released'));
        throw err;
      }
    };
  }
}

/** @throws {ValidationError} when the option is not a key function and a positive, finite ttl */
export function checkIdempotency(options: IdempotencyOptions<any>): void {
  if (typeof options.key !== 'function')
    throw new ValidationError('idempotency.key must be a function (payload, meta) => string');
  if (!Number.isSafeInteger(options.ttlMs) || options.ttlMs <= 0)
    throw new ValidationError('idempotency.ttlMs must be a positive whole number of ms');
}

/** Builds a subscription's guard on its transport's store. @throws {ValidationError} for invalid options */
export function idempotencyGuard(
  options: IdempotencyOptions<any>,
  transport: Transport,
  ctx: GuardContext,
): IdempotencyGuard {
  const now = (): number => ctx.clock.now();
  return new IdempotencyGuard(options, () => openIdempotencyStore(transport, options.ttlMs, now), ctx);
}
