import type { Env } from '../../env.js';
import type { CloudEvent, RawBytes } from '../../events/cloudevent.js';
import { describeError } from '../../errors.js';
import type { Backoff } from '../../retry/backoff.js';
import type { DeadLetterReason } from '../../transport/dead-letters.js';
import type { Delivery } from '../../transport/transport.js';
import type { SubscriberObserver, SubscriberStats } from './stats.js';

/** What settling needs to know about its subscription. */
export interface SettleContext extends Pick<Env, 'clock' | 'logger'> {
  readonly type: string;
  readonly group: string;
  readonly maxAttempts: number;
  readonly backoff: Backoff;
  readonly stats: SubscriberStats;
  readonly observer: SubscriberObserver | undefined;
  /** Told when something health reads changed outside the machine (a handler hung, or returned). */
  readonly onStateChange?: () => void;
  /** With an inspector attached: each delivery's steps, as events to the subscriber's actor. */
  readonly trace?: DeliveryTrace | undefined;
}

/** A delivery's steps, for the inspector; only set when one is attached (the hot path pays nothing else). */
export interface DeliveryTrace {
  attempt(eventId: string, attempt: number): void;
  acked(eventId: string, attempt: number): void;
  retry(eventId: string, attempt: number, delayMs: number): void;
  dead(eventId: string, attempt: number, reason: DeadLetterReason): void;
}

/**
 * A failed attempt: redeliver after the backoff delay, or, on the last attempt, dead-letter it.
 * If the dead-letter write fails the delivery is sent back instead, so nothing is lost.
 */
export async function settleFailure(
  ctx: SettleContext,
  delivery: Delivery,
  event: CloudEvent,
  err: unknown,
  reason: 'handler' | 'timeout',
): Promise<void> {
  ctx.observer?.onFailed?.(ctx.type, ctx.group, reason);
  if (delivery.attempt < ctx.maxAttempts) {
    const delayMs = ctx.backoff.delay(delivery.attempt);
    ctx.stats.retried++;
    ctx.logger.warn(
      { err, eventId: event.id, attempt: delivery.attempt, delayMs },
      'handler failed; retrying after backoff',
    );
    delivery.nak(delayMs);
    ctx.trace?.retry(event.id, delivery.attempt, delayMs);
    return;
  }
  await deadLetter(ctx, delivery, event, reason, describeError(err), undefined);
}

/** Writes the dead letter durably, then removes the delivery from the live path. */
export async function deadLetter(
  ctx: SettleContext,
  delivery: Delivery,
  event: CloudEvent,
  reason: DeadLetterReason,
  error: { name: string; message: string },
  raw: RawBytes | undefined,
): Promise<void> {
  const draft = {
    event,
    reason,
    error,
    attempts: delivery.attempt,
    group: ctx.group,
    ...raw,
  };
  try {
    await delivery.deadLetter(draft);
    ctx.stats.deadLettered++;
    ctx.observer?.onDeadLettered?.(ctx.type, ctx.group, reason);
    ctx.trace?.dead(event.id, delivery.attempt, reason);
    ctx.logger.error({ eventId: event.id, reason, error, attempts: delivery.attempt }, 'event dead-lettered');
  } catch (err) {
    ctx.logger.error({ err, eventId: event.id }, 'dead-letter write failed; event sent back for redelivery');
    delivery.nak(ctx.backoff.delay(delivery.attempt));
  }
}
