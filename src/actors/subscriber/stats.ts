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
  timeouts: number;
  inFlight: number;
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
    timeouts: 0,
    inFlight: 0,
  };
}

/** Called as work settles; the metrics layer plugs in here. */
export interface SubscriberObserver {
  onHandled?(type: string, group: string, durationMs: number): void;
  onFailed?(type: string, group: string, reason: string): void;
  onDeadLettered?(type: string, group: string, reason: string): void;
  onReceived?(type: string, group: string): void;
}
