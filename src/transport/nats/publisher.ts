import { CLOUDEVENTS_CONTENT_TYPE, encodeEvent } from '../../events/cloudevent.js';
import {
  BackpressureError,
  BulwarkError,
  PayloadTooLargeError,
  PublishTimeoutError,
  TransportError,
} from '../../errors.js';
import type { Logger } from '../../logging.js';
import { TRACEPARENT_HEADER, type OutboundMessage, type PublishReceipt } from '../transport.js';
import type { Outbox, OutboxEntry } from './outbox.js';
import type { Names } from './toolkit/names.js';
import type { PubAckPublisher, StoredAck } from './toolkit/pub-ack.js';
import { WireHeader } from './toolkit/wire.js';

/** Entries published at once while flushing the outbox. */
const FLUSH_WINDOW = 256;
const RETRY_MS = [100, 250, 500, 1_000, 2_000] as const;

/** What the publisher needs from its transport. */
export interface PublisherHost {
  readonly names: Names;
  readonly outbox: Outbox;
  readonly logger: Logger;
  /** A publish not confirmed by then rejects with {@link PublishTimeoutError}. */
  readonly publishTimeoutMs: number;
  /** The largest message the server takes; known once connected. */
  maxPayload(): number;
  /** The connection's PubAck publisher; undefined until the transport has connected once. */
  pubAck(): PubAckPublisher | undefined;
  /** Whether publishes are being stored: told after every answer, or lack of one. */
  stored(ok: boolean, reason?: string): void;
}

type Draft = Omit<OutboxEntry, 'n' | 'settle'>;

/** A publish someone waits for: settled once, by its PubAck, a refusal, or its deadline. */
interface Waiter {
  /** Its key among the waiting. */
  readonly n: number;
  readonly id: string;
  readonly at: number;
  readonly resolve: (r: PublishReceipt) => void;
  readonly reject: (e: Error) => void;
  /** Sent to the broker at least once: it may be stored even if no answer came. */
  sent: boolean;
  /** Its place in the outbox while it waits there. */
  entry: OutboxEntry | undefined;
}

/**
 * Publishes with the event id as `msgID` and resolves on the PubAck. While the connection is down,
 * or while older events still wait in the outbox, a publish joins the outbox so that order holds;
 * a publish that fails for want of a broker (timeout, no responders) joins it too and is retried
 * with the same `msgID`, so a retry of something that was in fact stored is deduplicated. Every
 * publish settles within `publishTimeoutMs`: stored, refused, or a {@link PublishTimeoutError} that
 * says whether it may have been stored. Only a publish that was never sent is refused with
 * {@link BackpressureError} when the outbox is full.
 */
export class Publisher {
  connected = false;
  private flushing = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private retries = 0;
  private closed = false;
  /** Dedup keys whose publish may have been stored before it failed: a duplicate there is our own. */
  private readonly uncertain = new Set<string>();
  /** Publishes not yet settled, oldest first: the deadline sweep reads them in that order. */
  private readonly waiting = new Map<number, Waiter>();
  private nextWaiter = 0;
  private sweeper: NodeJS.Timeout | undefined;

  constructor(private readonly host: PublisherHost) {}

  /** @throws {PayloadTooLargeError} (as a rejection) when the event is larger than the server takes */
  publish(msg: OutboundMessage): Promise<PublishReceipt> {
    const h: Record<string, string> = { ...msg.headers, [WireHeader.contentType]: CLOUDEVENTS_CONTENT_TYPE };
    if (msg.event.traceparent !== undefined) h[TRACEPARENT_HEADER] = msg.event.traceparent;
    const subject = this.host.names.eventSubject(msg.type);
    return this.send({
      id: msg.event.id,
      subject,
      body: encodeEvent(msg.event),
      msgId: msg.msgId,
      headers: h,
    });
  }

  /** Publishes bytes as they are under the dedup key `msgId` (also the receipt's id). */
  publishRaw(
    subject: string,
    body: Uint8Array,
    msgId: string,
    headers: Readonly<Record<string, string>>,
  ): Promise<PublishReceipt> {
    return this.send({ id: msgId, subject, body, msgId, headers });
  }

  private send(draft: Draft): Promise<PublishReceipt> {
    if (this.closed) return Promise.reject(new TransportError('the NATS transport is closed'));
    const size = draft.body.byteLength + headersSize(draft.headers) + draft.msgId.length;
    if (size > this.host.maxPayload())
      return Promise.reject(new PayloadTooLargeError(size, this.host.maxPayload()));
    const queued = !this.connected || this.host.outbox.size > 0 || this.flushing;
    if (queued && this.host.outbox.size >= this.host.outbox.max)
      return Promise.reject(
        new BackpressureError(
          `the broker is not storing events and the outbox is full (${this.host.outbox.max} events)`,
          this.host.outbox.max,
        ),
      );
    return new Promise<PublishReceipt>((resolve, reject) => {
      const n = ++this.nextWaiter;
      const w: Waiter = { n, id: draft.id, at: Date.now(), resolve, reject, sent: false, entry: undefined };
      this.watch(w);
      if (queued) return this.enqueue(draft, w);
      w.sent = true;
      this.direct(draft).then(
        (r) => this.settled(w, r),
        (err: unknown) => this.failed(draft, w, err),
      );
    });
  }

  private failed(draft: Draft, w: Waiter, err: unknown): void {
    if (!retriable(err) || this.closed) return this.refused(w, err);
    this.host.logger.warn(
      { err, eventId: draft.id },
      'publish failed for want of a broker; kept in the outbox',
    );
    this.uncertain.add(draft.msgId);
    this.enqueue(draft, w);
    this.scheduleFlush();
  }

  /** Puts a publish in the outbox; one already sent goes in even past `max`: it is not a new one. */
  private enqueue(draft: Draft, w: Waiter): void {
    w.entry = this.host.outbox.add(draft, {
      resolve: (r) => this.settled(w, r),
      reject: (e) => this.refused(w, e),
    });
  }

  private async direct(d: Draft): Promise<PublishReceipt> {
    const pubAck = this.host.pubAck();
    if (!pubAck) throw new TransportError('not connected');
    try {
      const ack = await pubAck.publish(d.subject, d.body, { ...d.headers, [WireHeader.msgId]: d.msgId });
      this.host.stored(true);
      return receipt(d.id, ack);
    } catch (err) {
      if (retriable(err)) this.host.stored(false, (err as Error).message);
      throw err;
    }
  }

  /** Sends the outbox, oldest first, in windows; stops at the first failure and retries later. */
  async flush(): Promise<void> {
    if (this.flushing || this.closed) return;
    this.flushing = true;
    try {
      while (this.connected && this.host.outbox.size > 0 && !this.closed) {
        const failed = await this.flushBatch(this.host.outbox.take(FLUSH_WINDOW));
        if (failed) {
          this.scheduleFlush();
          return;
        }
        this.retries = 0;
      }
    } finally {
      this.flushing = false;
    }
  }

  private async flushBatch(batch: OutboxEntry[]): Promise<boolean> {
    for (const entry of batch) entry.sent = true;
    const outcomes = await Promise.allSettled(batch.map((e) => this.direct(e)));
    let failed = false;
    outcomes.forEach((o, i) => {
      const entry = batch[i]!;
      if (o.status === 'fulfilled') {
        this.host.outbox.done(entry);
        const r = o.value;
        entry.settle?.resolve(this.uncertain.delete(entry.msgId) ? { id: r.id, seq: r.seq } : r);
      } else if (retriable(o.reason)) {
        failed = true;
        this.uncertain.add(entry.msgId);
        this.host.outbox.requeue(entry);
      } else {
        this.uncertain.delete(entry.msgId);
        this.host.outbox.done(entry);
        entry.settle?.reject(wrap(o.reason));
      }
    });
    return failed;
  }

  /** Retries a flush after a growing delay; a reconnect flushes at once anyway. */
  scheduleFlush(): void {
    if (this.retryTimer || this.closed) return;
    const delay = RETRY_MS[Math.min(this.retries++, RETRY_MS.length - 1)]!;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.flush();
    }, delay);
    this.retryTimer.unref();
  }

  private watch(w: Waiter): void {
    this.waiting.set(w.n, w);
    if (this.sweeper) return;
    const every = Math.max(50, Math.min(1_000, this.host.publishTimeoutMs / 4));
    this.sweeper = setInterval(() => this.sweep(), every);
    this.sweeper.unref();
  }

  private settled(w: Waiter, r: PublishReceipt): void {
    if (this.forget(w)) w.resolve(r);
  }

  private refused(w: Waiter, err: unknown): void {
    if (this.forget(w)) w.reject(err instanceof BulwarkError ? err : wrap(err));
  }

  /** @returns false when `w` had already settled (its deadline passed first) */
  private forget(w: Waiter): boolean {
    if (!this.waiting.delete(w.n)) return false;
    if (this.waiting.size === 0) this.stopSweeping();
    return true;
  }

  /** Rejects publishes past their deadline; one never sent leaves the outbox, so nothing is stored. */
  private sweep(): void {
    const late = Date.now() - this.host.publishTimeoutMs;
    const expired: Waiter[] = [];
    for (const [n, w] of this.waiting) {
      if (w.at > late) break;
      this.waiting.delete(n);
      expired.push(w);
    }
    // Never sent: out of the outbox (in one pass, however many), so certainly not stored.
    const unsent = new Set<OutboxEntry>();
    for (const w of expired) if (!w.sent && w.entry && !w.entry.sent) unsent.add(w.entry);
    const removed = unsent.size > 0 ? this.host.outbox.removeAll(unsent) : unsent;
    for (const w of expired)
      w.reject(new PublishTimeoutError(w.id, this.host.publishTimeoutMs, !(w.entry && removed.has(w.entry))));
    if (this.waiting.size === 0) this.stopSweeping();
  }

  private stopSweeping(): void {
    clearInterval(this.sweeper);
    this.sweeper = undefined;
  }

  /** Takes publishes again after {@link close} (the transport started again). */
  reopen(): void {
    this.closed = false;
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.stopSweeping();
  }
}

function headersSize(h: Readonly<Record<string, string>>): number {
  let n = 12;
  for (const k in h) n += k.length + h[k]!.length + 4;
  return n;
}

function receipt(id: string, ack: StoredAck): PublishReceipt {
  return ack.duplicate ? { id, seq: ack.seq, duplicate: true } : { id, seq: ack.seq };
}

/**
 * Errors that are a refusal by the broker (or of the call), as opposed to a want of one. Told by
 * name: this module is loaded before the NATS client is, and must not load it.
 */
const REFUSALS = new Set([
  'JetStreamApiError',
  'JetStreamRefusedError',
  'ClosedConnectionError',
  'DrainingConnectionError',
  'InvalidArgumentError',
  'PayloadTooLargeError',
]);

/** A failure for want of a broker, as opposed to a refusal by one. */
export function retriable(err: unknown): boolean {
  return !REFUSALS.has((err as { name?: string } | null)?.name ?? '');
}

function wrap(err: unknown): Error {
  if (err instanceof BulwarkError) return err;
  return new TransportError(`publish failed: ${(err as Error)?.message ?? String(err)}`, { cause: err });
}
