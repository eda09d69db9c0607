import { AckPolicy, DeliverPolicy, type JetStreamManager, type JsMsg } from '@nats-io/jetstream';
import { nanos, nuid } from '@nats-io/transport-node';
import type { Logger } from '../../../logging.js';
import { isNotFound } from './provision.js';

/** The second (since the epoch) a message held now with `delayMs` is due: rounded up, never early. */
export function dueSecond(now: number, delayMs: number): number {
  return Math.ceil((now + delayMs) / 1_000);
}

/** How often a mover asks which due seconds the delay stream holds: what other instances published. */
const SCAN_MS = 1_000;
/** After a failed move, the mover tries again no sooner than this. */
const RETRY_MS = 1_000;
/** Messages read from one due second per fetch. */
const BATCH = 256;

/** One kind of message held by due second: where they sit and where each goes once due. */
export interface DueSeconds {
  /** The stream holding them. */
  readonly stream: string;
  /** The `subjects_filter` that lists every due-second subject. */
  readonly wildcard: string;
  /** The subject of one due second (seconds since the epoch). */
  subject(second: number): string;
  /** @returns the due second of a subject; undefined when it is not one */
  secondOf(subject: string): number | undefined;
  /** Sends one due message where it belongs; resolves once it is stored there. */
  forward(m: JsMsg): Promise<unknown>;
  /**
   * How long before its end a second is read: its messages carry their own due time, and `forward`
   * waits for it.
   * @default 0
   */
  readonly leadMs?: number;
}

/** What a {@link DueSecondMover} uses of its transport. */
export interface MoverHost {
  /** The current connection's JetStream manager; undefined while there is none. */
  readonly jsm: () => JetStreamManager | undefined;
  readonly logger: Logger;
  /** A fetch's expiry, and how long `stop` waits for a move in progress. */
  readonly requestTimeoutMs: number;
}

/**
 * Moves messages held by due second once due: nothing is delivered or tracked while they wait. One
 * timer sleeps until the earliest due second it knows of; it learns the seconds other instances
 * filled from the stream's subject counts, asked every {@link SCAN_MS}. A due second is read through
 * a short-lived consumer, each message is forwarded (under a dedup key, so that two movers or a move
 * retried after a crash store it once), and only then are the messages read purged (those stored
 * since stay for the next move).
 * @example
 * const mover = new DueSecondMover(seconds, { jsm: () => jsm, logger, requestTimeoutMs: 5_000 });
 * mover.start();
 * await mover.stop();
 */
export class DueSecondMover {
  private readonly due = new Set<number>();
  /** Seconds noted since the last scan began: the scan's answer may predate them. */
  private readonly noted = new Set<number>();
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Number.POSITIVE_INFINITY;
  private scanner: NodeJS.Timeout | undefined;
  private scanning = false;
  private moving: Promise<void> | undefined;
  private retryAt = 0;
  /** The second being read, and whether this instance filled it meanwhile. */
  private reading: number | undefined;
  private refilled = false;
  private stopped = false;

  constructor(
    private readonly seconds: DueSeconds,
    private readonly host: MoverHost,
  ) {}

  start(): void {
    this.scanner = setInterval(() => void this.scan(), SCAN_MS);
    this.scanner.unref();
    void this.scan();
  }

  /** A due second this instance filled: no need to wait for the next scan. */
  readonly noteDue = (second: number): void => {
    this.due.add(second);
    this.noted.add(second);
    if (second === this.reading) this.refilled = true;
    this.arm();
  };

  private async scan(): Promise<void> {
    const jsm = this.host.jsm();
    if (this.scanning || this.stopped || !jsm) return;
    this.scanning = true;
    this.noted.clear();
    try {
      const { stream, wildcard } = this.seconds;
      const info = await jsm.streams.info(stream, { subjects_filter: wildcard });
      const listed = new Set<number>();
      for (const subject of Object.keys(info.state.subjects ?? {})) {
        const second = this.seconds.secondOf(subject);
        if (second !== undefined) listed.add(second);
      }
      // Moved by another instance meanwhile: forgotten, unless noted after the question was asked.
      for (const second of this.due)
        if (!listed.has(second) && !this.noted.has(second)) this.due.delete(second);
      for (const second of listed) this.due.add(second);
      this.arm();
    } catch (err) {
      if (!isNotFound(err)) this.host.logger.debug({ err }, 'due-second scan failed');
    } finally {
      this.scanning = false;
    }
  }

  /** When second `second` (seconds since the epoch, its messages due by its end) is read. */
  private startOf(second: number): number {
    return second * 1_000 - (this.seconds.leadMs ?? 0);
  }

  private earliest(): number {
    let min = Number.POSITIVE_INFINITY;
    for (const second of this.due) if (second < min) min = second;
    return min;
  }

  /** One timer, for the earliest due second known (or the retry after a failed move). */
  private arm(): void {
    if (this.stopped || this.moving) return;
    const earliest = this.earliest();
    if (earliest === Number.POSITIVE_INFINITY) return;
    const at = Math.max(this.startOf(earliest), this.retryAt);
    if (this.timer && this.timerAt <= at) return;
    clearTimeout(this.timer);
    this.timerAt = at;
    // Long waits are cut short: the scan re-arms, and a timer never waits past Node's limit.
    this.timer = setTimeout(this.fire, Math.min(Math.max(0, at - Date.now()), 60_000));
    this.timer.unref();
  }

  private readonly fire = (): void => {
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
    if (this.stopped || this.moving) return;
    this.moving = this.moveDue()
      .catch((err: unknown) => {
        this.retryAt = Date.now() + RETRY_MS;
        if (!this.stopped) this.host.logger.warn({ err }, 'moving due messages failed; trying again');
      })
      .finally(() => {
        this.moving = undefined;
        this.arm();
      });
  };

  private async moveDue(): Promise<void> {
    const now = Date.now();
    const due = [...this.due].filter((second) => this.startOf(second) <= now).sort((a, b) => a - b);
    for (const second of due) {
      if (this.stopped) return;
      this.reading = second;
      this.refilled = false;
      await this.move(second);
      // Filled again while it was read (a lead lets that happen): read again at once.
      if (!this.refilled) this.due.delete(second);
    }
    this.reading = undefined;
  }

  /** Forwards every message of one due second, then purges what it read. */
  private async move(second: number): Promise<void> {
    const jsm = this.host.jsm();
    if (!jsm) throw new Error('not connected');
    const { stream } = this.seconds;
    const subject = this.seconds.subject(second);
    const ci = await jsm.consumers.add(stream, {
      name: `mover_${nuid.next()}`,
      ack_policy: AckPolicy.None,
      deliver_policy: DeliverPolicy.All,
      filter_subject: subject,
      inactive_threshold: nanos(30_000),
      mem_storage: true,
    });
    try {
      const consumer = await jsm.jetstream().consumers.get(stream, ci.name);
      let last = 0;
      for (let left = ci.num_pending; left > 0;) {
        const batch = await consumer.fetch({
          max_messages: Math.min(left, BATCH),
          expires: this.host.requestTimeoutMs,
        });
        const sent: Promise<unknown>[] = [];
        for await (const m of batch as AsyncIterable<JsMsg>) {
          sent.push(this.seconds.forward(m));
          last = m.seq;
        }
        if (sent.length === 0) break;
        await Promise.all(sent);
        left -= sent.length;
      }
      if (last > 0) await jsm.streams.purge(stream, { filter: subject, seq: last + 1 });
    } finally {
      await jsm.consumers.delete(stream, ci.name).catch(() => undefined);
    }
  }

  /** Stops the timers and waits for a move in progress, at most a request's timeout. Idempotent. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.scanner);
    clearTimeout(this.timer);
    this.timer = undefined;
    const moving = this.moving;
    if (!moving) return;
    // A move stuck on a broker that went away is not waited for: what it did not purge is moved
    // again by the next mover, and dedup keeps one copy.
    let late: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      late = setTimeout(resolve, this.host.requestTimeoutMs);
    });
    await Promise.race([moving, timeout]);
    clearTimeout(late);
  }
}
