import type { CloudEvent } from '../events/cloudevent.js';

/** Why an event left the live path. */
export type DeadLetterReason = 'handler' | 'validation' | 'decode' | 'timeout';

/** What a subscriber records when it gives up on a delivery. */
export interface DeadLetterDraft {
  /** The event; for `'decode'` a stand-in whose `data` is the raw text. */
  readonly event: CloudEvent;
  readonly reason: DeadLetterReason;
  readonly error: { readonly name: string; readonly message: string };
  readonly attempts: number;
  readonly group: string;
  /** The raw bytes as text, kept when they could not be decoded. */
  readonly raw?: string;
}

/** A dead-lettered event, as `rt.deadLetters.list()` returns it. */
export interface DeadLetter extends DeadLetterDraft {
  /** The dead letter's own id (unique per record; the same event may die in two groups). */
  readonly id: string;
  /** ISO time. */
  readonly failedAt: string;
  /** Where it came from. */
  readonly subject: string;
  readonly seq?: number;
}

/** Selects dead letters; `ids` match a dead letter's id or its event's id. */
export interface DeadLetterQuery {
  readonly ids?: readonly string[];
  readonly type?: string;
  readonly group?: string;
  readonly reason?: DeadLetterReason;
}

/** The dead-letter store behind `rt.deadLetters`. */
export interface DeadLetterStore {
  /** Newest last; `limit` @default 100 */
  list(query?: DeadLetterQuery & { readonly limit?: number }): Promise<DeadLetter[]>;
  get(id: string): Promise<DeadLetter | undefined>;
  /** Republishes to the original subject for the original group only, then removes the records. */
  redrive(query?: DeadLetterQuery): Promise<{ redriven: number }>;
  purge(query?: DeadLetterQuery): Promise<{ purged: number }>;
  count(query?: DeadLetterQuery): Promise<number>;
}

/** @returns true when a dead letter matches the query. */
export function matchesDeadLetter(dl: DeadLetter, q: DeadLetterQuery | undefined): boolean {
  if (!q) return true;
  if (q.ids && !q.ids.includes(dl.id) && !q.ids.includes(dl.event.id)) return false;
  if (q.type !== undefined && dl.event.type !== q.type) return false;
  if (q.group !== undefined && dl.group !== q.group) return false;
  if (q.reason !== undefined && dl.reason !== q.reason) return false;
  return true;
}

/**
 * What every dead-letter store does the same way, on top of three things each does its own way:
 * selecting records, republishing one to the live path, and removing one.
 */
export abstract class DeadLetterStoreBase implements DeadLetterStore {
  /** Matching records, oldest first, up to `limit`. */
  protected abstract select(query: DeadLetterQuery | undefined, limit: number): Promise<DeadLetter[]>;
  /** Puts a dead letter back on the live path, for its group only. */
  protected abstract republish(dl: DeadLetter): Promise<void>;
  /** Removes a record; a record already gone is not an error. */
  protected abstract remove(dl: DeadLetter): Promise<void>;

  abstract get(id: string): Promise<DeadLetter | undefined>;

  list(query?: DeadLetterQuery & { readonly limit?: number }): Promise<DeadLetter[]> {
    return this.select(query, query?.limit ?? 100);
  }

  async count(query?: DeadLetterQuery): Promise<number> {
    return (await this.select(query, Infinity)).length;
  }

  /** Republishes each selected record, then removes it: a record is gone only once its event is back. */
  async redrive(query?: DeadLetterQuery): Promise<{ redriven: number }> {
    let redriven = 0;
    for (const dl of await this.select(query, Infinity)) {
      await this.republish(dl);
      await this.remove(dl);
      redriven++;
    }
    return { redriven };
  }

  async purge(query?: DeadLetterQuery): Promise<{ purged: number }> {
    let purged = 0;
    for (const dl of await this.select(query, Infinity)) {
      await this.remove(dl);
      purged++;
    }
    return { purged };
  }
}
