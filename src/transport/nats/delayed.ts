import { AckPolicy, DeliverPolicy, type JetStreamManager, type JsMsg } from '@nats-io/jetstream';
import { nanos, nuid } from '@nats-io/transport-node';
import { CLOUDEVENTS_CONTENT_TYPE, encodeEvent } from '../../events/cloudevent.js';
import { ValidationError } from '../../errors.js';
import type { Logger } from '../../logging.js';
import { TRACEPARENT_HEADER, type OutboundMessage, type PublishReceipt } from '../transport.js';
import type { Publisher } from './publisher.js';
import type { Names } from './toolkit/names.js';
import type { ResolvedNatsOptions } from './toolkit/options.js';
import { ensureDelayedStream, isNotFound } from './toolkit/provision.js';
import { WireHeader } from './toolkit/wire.js';

/** The header that keeps a delayed event's type on the delay stream (its subject names only its due second). */
const DELAYED_TYPE_HEADER = 'bulwark-delayed-type';
/** How often a mover asks which due seconds the delay stream holds: what other instances published. */
const SCAN_MS = 1_000;
/** After a failed move, the mover tries again no sooner than this. */
const RETRY_MS = 1_000;
/** Messages read from one due second per fetch. */
const BATCH = 256;

/** @throws {ValidationError} unless `delayMs` is a finite number of ms, 0 or more */
export function checkDelay(delayMs: number): void {
  if (!(Number.isFinite(delayMs) && delayMs >= 0))
    throw new ValidationError(`delayMs must be a finite number of ms, 0 or more (got ${delayMs})`);
}

/** The second (since the epoch) an event published now with `delayMs` is due: rounded up, never early. */
export function dueSecond(now: number, delayMs: number): number {
  return Math.ceil((now + delayMs) / 1_000);
}

/** What the delay stream and its mover use of the transport. */
export interface DelayedHost {
  readonly names: Names;
  /** The transport's publisher: outbox, PubAcks and dedup keys as for any publish. */
  readonly publisher: Publisher;
  readonly logger: Logger;
  /** The current connection's JetStream manager; undefined while there is none. */
  readonly jsm: () => JetStreamManager | undefined;
  readonly options: ResolvedNatsOptions;
}

/** A transport's delayed publishing and its mover. */
export interface Delayed {
  readonly events: DelayedEvents;
  readonly mover: DelayedMover;
}

/**
 * Starts the mover of a NATS transport and the publishing side that tells it of its own due seconds.
 * @example
 * const delayed = startDelayed(host);
 * await delayed.events.publish(msg, 60_000);
 * await delayed.mover.stop();
 */
export function startDelayed(host: DelayedHost): Delayed {
  const mover = new DelayedMover(host);
  mover.start();
  return { events: new DelayedEvents(host, mover.noteDue), mover };
}

/**
 * Events published with `delayMs`: stored on `<PREFIX>_DELAYED` under `<prefix>.delayed.<dueSecond>`
 * (no unacknowledged delivery is parked, nothing costs CPU while it waits), and moved to their
 * events subject once due by a {@link DelayedMover}, keyed by the event's dedup key so that two
 * movers, or a move retried after a crash, store each event once.
 */
export class DelayedEvents {
  private ensured: Promise<void> | undefined;

  constructor(
    private readonly host: DelayedHost,
    private readonly noteDue: (second: number) => void,
  ) {}

  /**
   * Resolves once the event is stored on the delay stream.
   * @throws {ValidationError} for a negative or non-finite `delayMs`
   */
  async publish(msg: OutboundMessage, delayMs: number): Promise<PublishReceipt> {
    checkDelay(delayMs);
    const jsm = this.host.jsm();
    // Without a connection the publish waits in the outbox; the stream is made by a later one.
    if (jsm) await this.ensure(jsm);
    const due = dueSecond(Date.now(), delayMs);
    const headers: Record<string, string> = {
      ...msg.headers,
      [WireHeader.contentType]: CLOUDEVENTS_CONTENT_TYPE,
      [DELAYED_TYPE_HEADER]: msg.type,
    };
    if (msg.event.traceparent !== undefined) headers[TRACEPARENT_HEADER] = msg.event.traceparent;
    const { names, publisher } = this.host;
    const stored = await publisher.publishRaw(
      names.delayedSubject(due),
      encodeEvent(msg.event),
      msg.msgId,
      headers,
    );
    this.noteDue(due);
    return stored.duplicate ? { id: msg.event.id, duplicate: true } : { id: msg.event.id };
  }

  private ensure(jsm: JetStreamManager): Promise<void> {
    if (this.ensured) return this.ensured;
    const { names, options } = this.host;
    const ensured = (this.ensured = ensureDelayedStream(jsm, names, options));
    ensured.catch(() => (this.ensured = undefined));
    return ensured;
  }
}

/**
 * Moves due delayed events to their events subjects. One timer sleeps until the earliest due second
 * it knows of; it learns the seconds other instances filled from the delay stream's subject counts,
 * asked every {@link SCAN_MS}. A due second is read through a short-lived consumer, each event is
 * republished under its dedup key, and only then are the messages read purged (those stored since
 * stay for the next move).
 * @example
 * const mover = new DelayedMover(host);
 * mover.start();
 * await mover.stop();
 */
export class DelayedMover {
  private readonly due = new Set<number>();
  /** Seconds noted since the last scan began: the scan's answer may predate them. */
  private readonly noted = new Set<number>();
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Number.POSITIVE_INFINITY;
  private scanner: NodeJS.Timeout | undefined;
  private scanning = false;
  private moving: Promise<void> | undefined;
  private retryAt = 0;
  private stopped = false;

  constructor(private readonly host: DelayedHost) {}

  start(): void {
    this.scanner = setInterval(() => void this.scan(), SCAN_MS);
    this.scanner.unref();
    void this.scan();
  }

  /** A due second this instance filled: no need to wait for the next scan. */
  readonly noteDue = (second: number): void => {
    this.due.add(second);
    this.noted.add(second);
    this.arm();
  };

  private async scan(): Promise<void> {
    const jsm = this.host.jsm();
    if (this.scanning || this.stopped || !jsm) return;
    this.scanning = true;
    this.noted.clear();
    try {
      const { names } = this.host;
      const info = await jsm.streams.info(names.delayedStream, { subjects_filter: names.delayedWildcard });
      const listed = new Set<number>();
      for (const subject of Object.keys(info.state.subjects ?? {})) {
        const second = names.dueSecondOf(subject);
        if (second !== undefined) listed.add(second);
      }
      // Moved by another instance meanwhile: forgotten, unless noted after the question was asked.
      for (const second of this.due)
        if (!listed.has(second) && !this.noted.has(second)) this.due.delete(second);
      for (const second of listed) this.due.add(second);
      this.arm();
    } catch (err) {
      if (!isNotFound(err)) this.host.logger.debug({ err }, 'delay stream scan failed');
    } finally {
      this.scanning = false;
    }
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
    const at = Math.max(earliest * 1_000, this.retryAt);
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
        this.host.logger.warn({ err }, 'moving due delayed events failed; trying again');
      })
      .finally(() => {
        this.moving = undefined;
        this.arm();
      });
  };

  private async moveDue(): Promise<void> {
    const now = Date.now();
    const due = [...this.due].filter((second) => second * 1_000 <= now).sort((a, b) => a - b);
    for (const second of due) {
      if (this.stopped) return;
      await this.move(second);
      this.due.delete(second);
    }
  }

  /** Republishes every event of one due second, then purges what it read. */
  private async move(second: number): Promise<void> {
    const jsm = this.host.jsm();
    if (!jsm) throw new Error('not connected');
    const { names, options } = this.host;
    const subject = names.delayedSubject(second);
    const ci = await jsm.consumers.add(names.delayedStream, {
      name: `mover_${nuid.next()}`,
      ack_policy: AckPolicy.None,
      deliver_policy: DeliverPolicy.All,
      filter_subject: subject,
      inactive_threshold: nanos(30_000),
      mem_storage: true,
    });
    try {
      const consumer = await jsm.jetstream().consumers.get(names.delayedStream, ci.name);
      let last = 0;
      for (let left = ci.num_pending; left > 0;) {
        const batch = await consumer.fetch({
          max_messages: Math.min(left, BATCH),
          expires: options.requestTimeoutMs,
        });
        const sent: Promise<unknown>[] = [];
        for await (const m of batch as AsyncIterable<JsMsg>) {
          sent.push(this.republish(m));
          last = m.seq;
        }
        if (sent.length === 0) break;
        await Promise.all(sent);
        left -= sent.length;
      }
      if (last > 0) await jsm.streams.purge(names.delayedStream, { filter: subject, seq: last + 1 });
    } finally {
      await jsm.consumers.delete(names.delayedStream, ci.name).catch(() => undefined);
    }
  }

  private republish(m: JsMsg): Promise<unknown> {
    const headers: Record<string, string> = {};
    for (const key of m.headers?.keys() ?? []) headers[key] = m.headers!.get(key);
    const type = headers[DELAYED_TYPE_HEADER];
    const msgId = headers[WireHeader.msgId] || `delayed:${m.seq}`;
    delete headers[DELAYED_TYPE_HEADER];
    delete headers[WireHeader.msgId];
    if (!type) {
      this.host.logger.error({ seq: m.seq, subject: m.subject }, 'delayed message without a type; dropped');
      return Promise.resolve();
    }
    return this.host.publisher.publishRaw(this.host.names.eventSubject(type), m.data, msgId, headers);
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
      late = setTimeout(resolve, this.host.options.requestTimeoutMs);
    });
    await Promise.race([moving, timeout]);
    clearTimeout(late);
  }
}
