import { MissingStreamError } from '../../errors.js';
import {
  decodeRecord,
  queueKeyPrefix,
  schedulerInfo,
  schedulersBucket,
  type SchedulerInfo,
  type SchedulerRecord,
} from '../../queue/schedule.js';
import type { KeyValueStore } from '../../transport/key-value.js';

/** A job scheduler as the dashboard lists it: its schedule and slots, not its data. */
export type SchedulerRow = Omit<SchedulerInfo, 'data'>;

/** What the dashboard shows of a queue's schedulers. */
export interface QueueSchedulers {
  /** The first {@link SCHEDULERS_SHOWN} by name. */
  readonly rows: readonly SchedulerRow[];
  /** How many the queue has, listed or not. */
  readonly total: number;
}

/** Where the schedulers' definitions are read: the runtime's transport. */
export interface SchedulerSource {
  keyValue?(bucket: string, options?: { readonly create?: boolean }): Promise<KeyValueStore>;
  readonly namespace?: string;
}

/** Schedulers listed per queue; the rest are counted. */
export const SCHEDULERS_SHOWN = 20;

/** How often the definitions are read again while the dashboard is read. */
export const SCHEDULERS_REFRESH_MS = 5_000;

const NONE: QueueSchedulers = { rows: [], total: 0 };

/**
 * The job schedulers of the dashboard's queues, read from the transport's schedulers bucket: one
 * key listing for every queue at most every `refreshMs`, and at most {@link SCHEDULERS_SHOWN}
 * definitions read per queue. Next slots are worked out at every read from the definitions kept.
 * Reading never creates the bucket; while it is missing, no queue has schedulers.
 */
export class SchedulerBoard {
  private records = new Map<string, { readonly records: SchedulerRecord[]; readonly total: number }>();
  private readAt = Number.NEGATIVE_INFINITY;
  private kv: KeyValueStore | undefined;
  private reading: Promise<void> | undefined;

  constructor(
    private readonly source: SchedulerSource | undefined,
    private readonly refreshMs = SCHEDULERS_REFRESH_MS,
  ) {}

  /**
   * @param queues - the names to list schedulers of
   * @param now - the time next slots are worked out at (ms since the epoch)
   * @returns each queue's schedulers, as last read; a failed read keeps what the one before found
   */
  async read(queues: readonly string[], now: number): Promise<Map<string, QueueSchedulers>> {
    const missing = queues.some((q) => !this.records.has(q));
    if (missing || now - this.readAt >= this.refreshMs) {
      this.reading ??= this.refresh(queues, now).finally(() => (this.reading = undefined));
      await this.reading;
    }
    const out = new Map<string, QueueSchedulers>();
    for (const q of queues) {
      const seen = this.records.get(q);
      out.set(q, seen ? { rows: seen.records.map((r) => rowOf(r, now)), total: seen.total } : NONE);
    }
    return out;
  }

  private async refresh(queues: readonly string[], now: number): Promise<void> {
    this.readAt = now;
    try {
      const kv = await this.bucket();
      const keys = kv ? await kv.keys() : [];
      const read = await Promise.all(queues.map(async (q) => [q, await readQueue(kv, keys, q)] as const));
      this.records = new Map(read);
    } catch {
      // The transport is down or the bucket went away: the last read stands until the next one.
      for (const q of queues) if (!this.records.has(q)) this.records.set(q, { records: [], total: 0 });
    }
  }

  /** The bucket, opened once it exists; undefined while it does not. */
  private async bucket(): Promise<KeyValueStore | undefined> {
    if (this.kv || !this.source?.keyValue) return this.kv;
    try {
      this.kv = await this.source.keyValue(schedulersBucket(this.source.namespace), { create: false });
    } catch (err) {
      if (!(err instanceof MissingStreamError)) throw err;
    }
    return this.kv;
  }
}

async function readQueue(
  kv: KeyValueStore | undefined,
  keys: readonly string[],
  queue: string,
): Promise<{ records: SchedulerRecord[]; total: number }> {
  const prefix = queueKeyPrefix(queue);
  const mine = keys.filter((k) => k.startsWith(prefix)).sort();
  if (!kv || mine.length === 0) return { records: [], total: 0 };
  const entries = await Promise.all(mine.slice(0, SCHEDULERS_SHOWN).map((k) => kv.get(k)));
  const records = entries.flatMap((e) => {
    const r = e && decodeRecord(e.value);
    return r ? [r] : [];
  });
  // Keys of removed definitions may still be listed: counted only beyond the ones read.
  const total = mine.length > SCHEDULERS_SHOWN ? mine.length : records.length;
  return { records: records.sort((a, b) => a.name.localeCompare(b.name)), total };
}

function rowOf(record: SchedulerRecord, now: number): SchedulerRow {
  const { data: _data, ...row } = schedulerInfo(record, now);
  return row;
}
