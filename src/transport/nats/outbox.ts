import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { ClosedError } from '../../errors.js';
import type { PublishReceipt } from '../transport.js';
import type { OutboxLineWire } from './toolkit/wire.js';

/** One publish waiting for the broker. */
export interface OutboxEntry {
  /** Acceptance order; the outbox flushes in this order. */
  readonly n: number;
  readonly id: string;
  readonly subject: string;
  readonly body: Uint8Array;
  readonly msgId: string;
  readonly headers: Readonly<Record<string, string>>;
  /** Absent for entries restored from the file: their publisher is gone. */
  readonly settle?: { resolve(r: PublishReceipt): void; reject(e: Error): void };
  /** Sent to the broker at least once (it may be stored though no answer came). */
  sent?: boolean;
}

/**
 * Publishes accepted while the broker is unreachable, oldest first and bounded. With a file it is
 * also an append-only journal (`add` and `done` lines) that a restarted process replays; the file
 * is rewritten empty whenever the outbox drains.
 */
export class Outbox {
  private entries: OutboxEntry[] = [];
  private next = 1;

  constructor(
    readonly max: number,
    private readonly file: string | undefined,
  ) {
    if (file !== undefined) this.restore(file);
  }

  get size(): number {
    return this.entries.length;
  }

  /**
   * Accepts a publish; `settle` hears once the broker stored or refused it. The caller decides
   * whether there is room (`max`): a publish that was already sent goes in regardless.
   */
  add(e: Omit<OutboxEntry, 'n' | 'settle'>, settle: NonNullable<OutboxEntry['settle']>): OutboxEntry {
    const entry: OutboxEntry = { ...e, n: this.next++, settle };
    this.journal({ a: entry.n, i: e.id, s: e.subject, m: e.msgId, h: e.headers, b: b64(e.body) });
    this.entries.push(entry);
    return entry;
  }

  /** Takes back entries that wait here (their publishers gave up on them), in one pass. @returns those that were waiting */
  removeAll(gone: ReadonlySet<OutboxEntry>): Set<OutboxEntry> {
    const removed = new Set<OutboxEntry>();
    this.entries = this.entries.filter((e) => {
      if (!gone.has(e)) return true;
      removed.add(e);
      return false;
    });
    for (const e of removed) this.done(e);
    return removed;
  }

  /** Puts back an entry whose publish failed, in its place by acceptance order; never refused. */
  requeue(entry: OutboxEntry): void {
    let i = this.entries.length;
    while (i > 0 && this.entries[i - 1]!.n > entry.n) i--;
    this.entries.splice(i, 0, entry);
  }

  /** Takes up to `count` of the oldest entries out for publishing. */
  take(count: number): OutboxEntry[] {
    return this.entries.splice(0, count);
  }

  /** Records that an entry was stored by the broker. */
  done(entry: OutboxEntry): void {
    if (this.file === undefined) return;
    if (this.entries.length === 0) writeFileSync(this.file, '');
    else this.journal({ d: entry.n });
  }

  /** Rejects every waiting publisher; with a file the entries stay for the next process. */
  close(): void {
    const entries = this.entries;
    this.entries = [];
    const err = new ClosedError('the transport closed before the broker stored this event');
    for (const e of entries) e.settle?.reject(err);
  }

  private journal(line: OutboxLineWire): void {
    if (this.file !== undefined) appendFileSync(this.file, JSON.stringify(line) + '\n');
  }

  private restore(file: string): void {
    if (!existsSync(file)) return;
    const pending = new Map<number, OutboxEntry>();
    for (const text of readFileSync(file, 'utf8').split('\n')) {
      if (text === '') continue;
      let line: OutboxLineWire;
      try {
        line = JSON.parse(text) as OutboxLineWire;
      } catch {
        continue; // a torn last line from a crash mid-write
      }
      if ('d' in line) pending.delete(line.d);
      else
        pending.set(line.a, {
          n: line.a,
          id: line.i,
          subject: line.s,
          msgId: line.m,
          headers: line.h,
          body: unb64(line.b),
        });
    }
    this.entries = [...pending.values()].sort((x, y) => x.n - y.n);
    this.next = (this.entries.at(-1)?.n ?? 0) + 1;
  }
}

function b64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

function unb64(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, 'base64'));
}
