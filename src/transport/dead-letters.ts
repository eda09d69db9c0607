import type { CloudEvent } from '../events/cloudevent.js';

/** Why an event left the live path. */
export type DeadLetterReason = 'handler' | 'validation' | 'decode' | 'timeout';

/** What a subscriber records when it gives up on a delivery. */
export interface DeadLetterDraft {
  /** The event; for `'decode'` a stand-in without data (the bytes are in `raw`). */
  readonly event: CloudEvent;
  readonly reason: DeadLetterReason;
  readonly error: { readonly name: string; readonly message: string };
  readonly attempts: number;
  readonly group: string;
  /** The bytes as they arrived, kept when they could not be decoded: UTF-8 text, or base64 (`rawEncoding`). */
  readonly raw?: string;
  /** `'base64'` when the bytes were not valid UTF-8; a redrive puts back the exact bytes. */
  readonly rawEncoding?: 'base64';
  /**
   * True when the record was too large (or too deep) to store as it was: its data and raw bytes are
   * left out, and a redrive puts back the original, read from the stream by `seq`.
   */
  readonly truncated?: boolean;
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

/** One redrive's claim on one dead letter: no other redrive republishes it while the claim holds. */
export interface RedriveLease {
  /** A redrive that held this letter before already put its event back: only the removal is left. */
  readonly published: boolean;
  /** Records that the event is back on the live path. */
  markPublished(): Promise<void>;
  /**
   * Ends the claim. `removed`: the record is gone and nothing about it needs keeping; otherwise the
   * redrive gave up on it, and the next one may claim it (seeing `published` if it was).
   */
  release(removed: boolean): Promise<void>;
}

/**
 * Claims within this process: enough for a store that only this process reaches (memory). A store
 * shared by processes overrides {@link DeadLetterStoreBase.lease} with a claim they all see.
 */
class LocalLeases {
  private readonly held = new Set<string>();
  private readonly published = new Set<string>();

  take(id: string): RedriveLease | undefined {
    if (this.held.has(id)) return undefined;
    this.held.add(id);
    return {
      published: this.published.has(id),
      markPublished: async () => void this.published.add(id),
      release: async (removed) => {
        this.held.delete(id);
        if (removed) this.published.delete(id);
      },
    };
  }
}

/**
 * What every dead-letter store does the same way, on top of three things each does its own way:
 * selecting records, republishing one to the live path, and removing one. A redrive claims each
 * letter before it republishes it, so that two redrives running at once put every event back once,
 * and one retried after a partial failure does not put back again what the first already did.
 */
export abstract class DeadLetterStoreBase implements DeadLetterStore {
  private readonly local = new LocalLeases();

  /** Matching records, oldest first, up to `limit`. */
  protected abstract select(query: DeadLetterQuery | undefined, limit: number): Promise<DeadLetter[]>;
  /** Puts a dead letter back on the live path, for its group only. */
  protected abstract republish(dl: DeadLetter): Promise<void>;
  /** Removes a record; a record already gone is not an error. */
  protected abstract remove(dl: DeadLetter): Promise<void>;

  abstract get(id: string): Promise<DeadLetter | undefined>;

  /** Claims `dl` for this redrive; undefined while another redrive holds it. */
  protected async lease(dl: DeadLetter): Promise<RedriveLease | undefined> {
    return this.local.take(dl.id);
  }

  list(query?: DeadLetterQuery & { readonly limit?: number }): Promise<DeadLetter[]> {
    return this.select(query, query?.limit ?? 100);
  }

  async count(query?: DeadLetterQuery): Promise<number> {
    return (await this.select(query, Infinity)).length;
  }

  /**
   * Republishes each selected record, then removes it: a record is gone only once its event is back.
   * Letters another redrive holds are left to it and not counted.
   */
  async redrive(query?: DeadLetterQuery): Promise<{ redriven: number }> {
    let redriven = 0;
    for (const dl of await this.select(query, Infinity)) {
      const lease = await this.lease(dl);
      if (!lease) continue;
      // Another redrive may have finished it between our listing and our claim.
      if ((await this.get(dl.id)) === undefined) {
        await lease.release(true);
        continue;
      }
      try {
        if (!lease.published) {
          await this.republish(dl);
          await lease.markPublished();
        }
        await this.remove(dl);
      } catch (err) {
        // Given up: a retry claims it again, and removes without republishing if it was put back.
        await lease.release(false).catch(() => undefined);
        throw err;
      }
      await lease.release(true);
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
