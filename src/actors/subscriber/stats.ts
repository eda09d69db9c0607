/** Counters of one subscription, kept outside the machine so the hot path sends it no events. */
export interface SubscriberStats {
  /** Deliveries received, redeliveries included. */
  received: number;
  /** Handler successes (acked). */
  handled: number;
  /** Failed attempts sent back for a later try. */
  retried: number;
  deadLettered: number;
  /** Acked without running the handler because `filter` said no. */
  filtered: number;
  /** Redriven events meant for another group. */
  skipped: number;
  /** Acked without running the handler: its `idempotency` key had already succeeded. */
  duplicates: number;
  timeouts: number;
  inFlight: number;
  /**
   * Handlers that timed out but have not returned (they ignore their `signal`): each still holds its
   * concurrency slot, and health reports the subscriber as hung while any does.
   */
  hung: number;
}

/** @returns zeroed counters */
export function emptyStats(): SubscriberStats {
  return {
    received: 0,
    handled: 0,
    retried: 0,
    deadLettered: 0,
    filtered: 0,
    skipped: 0,
    duplicates: 0,
    timeouts: 0,
    inFlight: 0,
    hung: 0,
  };
}

/** Called as work settles; the metrics layer plugs in here. */
export interface SubscriberObserver {
  onHandled?(type: string, group: string, durationMs: number): void;
  onFailed?(type: string, group: string, reason: string): void;
  onDeadLettered?(type: string, group: string, reason: string): void;
  onReceived?(type: string, group: string): void;
  /** A duplicate by its `idempotency` key was acked without running the handler. */
  onDuplicate?(type: string, group: string): void;
}
