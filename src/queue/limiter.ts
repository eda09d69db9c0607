import { z } from 'zod';
import type { Clock } from '../time/clock.js';
import { KvConflictError, type KeyValueStore } from '../transport/key-value.js';

/**
 * A queue's rate limit (`rt.queue(name, { limiter })`), shared by every worker of the queue in every
 * process: never more than `max` jobs start in any `durationMs` window.
 */
export interface QueueLimiterOptions {
  /** Jobs started per window, across every worker. */
  readonly max: number;
  /** The sliding window, in ms. */
  readonly durationMs: number;
  /**
   * Limit each value of `job.data[groupKey]` on its own (a tenant, a customer): `max` per window per
   * value. A job of a value over its limit is put back, delayed until its window has room, so it
   * holds no worker slot and other values run on. Jobs whose data lacks the key share one budget.
   * @default one budget for the whole queue
   */
  readonly groupKey?: string;
}

/** The most a window may hold: its start log is one key-value entry. */
export const MAX_LIMIT = 100_000;

/** Schema of {@link QueueLimiterOptions}. */
export const limiterSchema = z.object({
  max: z.number().int().min(1).max(MAX_LIMIT),
  durationMs: z.number().int().min(1).max(86_400_000),
  groupKey: z.string().min(1).optional(),
});

/**
 * How far ahead a slot reserved for a job put back is stamped: the job counts as started at its
 * stamp `T`, and starts only in `[T - GRANT_AHEAD_MS, T)`. A start is never later than its stamp,
 * so two starts one window apart by their stamps are one window apart in fact.
 */
export const GRANT_AHEAD_MS = 200;
/**
 * Grants of {@link StartLog.reserve} are stamped this far ahead at least, and at most
 * {@link GRANT_AHEAD_MS}: four times the last write's round trip, so that the grant reaches its
 * worker before its stamp, while a window costs little more than its own length.
 */
const MIN_AHEAD_MS = 25;
/** Compare-and-set attempts in a row before the limiter waits a moment (peers took the window). */
const MAX_CAS = 16;

/** What a reservation answered. */
export interface Grant {
  /** Jobs that may start now (at most the number asked for). */
  readonly granted: number;
  /** With nothing granted: ms until the job should ask again (its reserved slot, or room). */
  readonly waitMs: number;
  /** The stamp the granted starts were logged with; start them only while the clock is before it. */
  readonly until: number;
}

/** `[stamp, count]`, or `[stamp, 1, jobId]` for a slot reserved ahead for one job. */
type Entry = [at: number, count: number, job?: string];

/** A job is not given a slot further ahead than this many windows; it asks again then. */
const MAX_WINDOWS_AHEAD = 10;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function decode(value: Uint8Array | undefined): Entry[] {
  if (!value) return [];
  try {
    const parsed: unknown = JSON.parse(decoder.decode(value));
    return Array.isArray(parsed) ? (parsed as Entry[]) : [];
  } catch {
    return [];
  }
}

/**
 * The log of starts in one window, kept in one key of the transport's key-value store and taken by
 * compare-and-set: stamps newer than the window. A start stamped `T` happens in `[T - A, T)`, with
 * `A` the stamp's lead, and is logged only while fewer than `max` stamps are later than
 * `T - A - durationMs`: so no window holds more than `max` starts. Workers on
 * different machines must share a clock (within a few ms) for the window to hold across them.
 */
export class StartLog {
  constructor(
    private readonly kv: () => Promise<KeyValueStore>,
    private readonly clock: Clock,
    private readonly max: number,
    private readonly durationMs: number,
  ) {}

  /** How far ahead {@link reserve} stamps: follows the store's round trip. */
  private aheadMs = GRANT_AHEAD_MS;

  /** Logs up to `wanted` starts now if the window has room (stamped a round trip or so ahead). */
  async reserve(key: string, wanted: number): Promise<Grant> {
    const began = this.clock.now();
    const grant = await this.cas(key, (log, now) => {
      const until = now + this.aheadMs;
      const granted = Math.min(wanted, this.max - this.usedAfter(log, now - this.durationMs));
      if (granted <= 0)
        return { grant: { granted: 0, waitMs: Math.max(1, this.freeAt(log) - now), until: 0 } };
      log.push([until, granted]);
      return { grant: { granted, waitMs: 0, until }, write: true };
    });
    if (grant.granted > 0) {
      const roundTrip = this.clock.now() - began;
      this.aheadMs = Math.min(GRANT_AHEAD_MS, Math.max(MIN_AHEAD_MS, 4 * roundTrip));
    }
    return grant;
  }

  /** When the window has room for one more start: once the `max`-th latest stamp is a window old. */
  private freeAt(log: readonly Entry[]): number {
    const sorted = [...log].sort((a, b) => b[0] - a[0]);
    let seen = 0;
    for (const [stamp, n] of sorted) {
      seen += n;
      if (seen >= this.max) return stamp + this.durationMs;
    }
    return 0;
  }

  /**
   * One start for job `id`: now when the window has room, else a slot reserved ahead for it (up to
   * {@link MAX_WINDOWS_AHEAD} windows), which the job takes when it asks again in time.
   */
  async reserveFor(key: string, id: string): Promise<Grant> {
    return this.cas(key, (log, now) => {
      const i = log.findIndex((e) => e[2] === id);
      const mine = log[i];
      if (mine && now < mine[0]) {
        const from = mine[0] - GRANT_AHEAD_MS;
        if (now >= from) return { grant: { granted: 1, waitMs: 0, until: mine[0] } };
        return { grant: { granted: 0, waitMs: from - now, until: 0 } };
      }
      // A slot it came too late for is given up: it never started in it.
      if (mine) log.splice(i, 1);
      const at = this.earliest(log, now);
      if (at === now + GRANT_AHEAD_MS) {
        log.push([at, 1]);
        return { grant: { granted: 1, waitMs: 0, until: at }, write: true };
      }
      const ahead = MAX_WINDOWS_AHEAD * this.durationMs;
      if (at - now > ahead) return { grant: { granted: 0, waitMs: ahead, until: 0 }, write: !!mine };
      log.push([at, 1, id]);
      return { grant: { granted: 0, waitMs: at - GRANT_AHEAD_MS - now, until: 0 }, write: true };
    });
  }

  /** The earliest stamp a reserved start may take: after every stamp, with room in its window. */
  private earliest(log: readonly Entry[], now: number): number {
    let at = now + GRANT_AHEAD_MS;
    for (const [stamp] of log) at = Math.max(at, stamp);
    return Math.max(at, this.freeAt(log) + GRANT_AHEAD_MS);
  }

  /** Starts stamped after `since`. */
  private usedAfter(log: readonly Entry[], since: number): number {
    let used = 0;
    for (const [at, n] of log) if (at > since) used += n;
    return used;
  }

  /** Reads the log, lets `step` decide (and change it), writes it back by compare-and-set when asked. */
  private async cas(
    key: string,
    step: (log: Entry[], now: number) => { grant: Grant; write?: boolean },
  ): Promise<Grant> {
    const store = await this.kv();
    for (let i = 0; i < MAX_CAS; i++) {
      const entry = await store.get(key);
      const now = this.clock.now();
      const log = decode(entry?.value).filter(([at]) => at > now - this.durationMs);
      const { grant, write } = step(log, now);
      if (!write) return grant;
      const value = encoder.encode(JSON.stringify(log));
      try {
        await (entry ? store.update(key, value, entry.revision) : store.create(key, value));
        return grant;
      } catch (err) {
        if (!(err instanceof KvConflictError)) throw err;
      }
    }
    return { granted: 0, waitMs: 1, until: 0 };
  }
}

/** The key of a queue's budget, or of one group's (`limit.<queue>[.<group>]`, encoded as key tokens). */
export function limitKey(queue: string, group?: string): string {
  const base = `limit.${keyToken(queue)}`;
  return group === undefined ? base : `${base}.${keyToken(group)}`;
}

const KEY_TOKEN = /^[A-Za-z0-9_-]+$/;

function keyToken(s: string): string {
  return KEY_TOKEN.test(s) ? s : `=${Buffer.from(s).toString('base64url')}`;
}

/** @returns the limiter group of a job's data: the value at `groupKey` as a string ('' when absent, JSON for an object) */
export function limitGroup(data: unknown, groupKey: string): string {
  const v =
    data !== null && typeof data === 'object' ? (data as Record<string, unknown>)[groupKey] : undefined;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return `${v}`;
  return v === undefined || v === null ? '' : (JSON.stringify(v) ?? '');
}
