import { JetStreamApiError } from '@nats-io/jetstream';
import { CLOUDEVENTS_CONTENT_TYPE, encodeEvent } from '../../events/cloudevent.js';
import { TransportError } from '../../errors.js';
import type { Logger } from '../../logging.js';
import { TRACEPARENT_HEADER, type OutboundMessage, type PublishReceipt } from '../transport.js';
import type { Names } from './toolkit/names.js';
import type { Outbox, OutboxEntry } from './outbox.js';
import { JetStreamRefusedError, type PubAckPublisher, type StoredAck } from './toolkit/pub-ack.js';
import { WireHeader } from './toolkit/wire.js';

/** Entries published at once while flushing the outbox. */
const FLUSH_WINDOW = 256;
const RETRY_MS = [100, 250, 500, 1_000, 2_000] as const;

/** What the publisher needs from its transport. */
export interface PublisherHost {
  /** PubAcks for many publishes in flight over one reply subscription. */
  readonly pubAck: PubAckPublisher;
  readonly names: Names;
  readonly outbox: Outbox;
  readonly logger: Logger;
  readonly timeoutMs: number;
  /** The outbox size changed (for status). */
  outboxChanged(): void;
}

type Draft = Omit<OutboxEntry, 'n' | 'settle'>;

/**
 * Publishes with the event id as `msgID` and resolves on the PubAck. While the connection is down,
 * or while older events still wait in the outbox, a publish joins the outbox so that order holds;
 * a publish that fails for want of a broker (timeout, no responders) joins it too and is retried
 * with the same `msgID`, so a retry of something that was in fact stored is deduplicated.
 */
export class Publisher {
  connected = true;
  private flushing = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private retries = 0;
  private closed = false;
  /** Dedup keys whose publish may have been stored before it failed: a duplicate there is our own. */
  private readonly uncertain = new Set<string>();

  constructor(private readonly host: PublisherHost) {}

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
    if (!this.connected || this.host.outbox.size > 0 || this.flushing) return this.enqueue(draft);
    return this.direct(draft).catch((err: unknown) => {
      if (!retriable(err) || this.closed) throw wrap(err);
      this.host.logger.warn(
        { err, eventId: draft.id },
        'publish failed for want of a broker; kept in the outbox',
      );
      this.uncertain.add(draft.msgId);
      const p = this.enqueue(draft);
      this.scheduleFlush();
      return p;
    });
  }

  private enqueue(draft: Draft): Promise<PublishReceipt> {
    const p = this.host.outbox.add(draft);
    this.host.outboxChanged();
    return p;
  }

  private async direct(d: Draft): Promise<PublishReceipt> {
    const ack = await this.host.pubAck.publish(d.subject, d.body, {
      ...d.headers,
      [WireHeader.msgId]: d.msgId,
    });
    return receipt(d.id, ack);
  }

  /** Sends the outbox, oldest first, in windows; stops at the first failure and retries later. */
  async flush(): Promise<void> {
    if (this.flushing || this.closed) return;
    this.flushing = true;
    try {
      while (this.connected && this.host.outbox.size > 0 && !this.closed) {
        const batch = this.host.outbox.take(FLUSH_WINDOW);
        const failed = await this.flushBatch(batch);
        this.host.outboxChanged();
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

  close(): void {
    this.closed = true;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
  }
}

function receipt(id: string, ack: StoredAck): PublishReceipt {
  return ack.duplicate ? { id, seq: ack.seq, duplicate: true } : { id, seq: ack.seq };
}

/** A failure for want of a broker, as opposed to a refusal by one. */
export function retriable(err: unknown): boolean {
  if (err instanceof JetStreamApiError || err instanceof JetStreamRefusedError) return false;
  const name = (err as { name?: string } | null)?.name ?? '';
  return !['ClosedConnectionError', 'DrainingConnectionError', 'InvalidArgumentError'].includes(name);
}

function wrap(err: unknown): Error {
  return new TransportError(`publish failed: ${(err as Error)?.message ?? String(err)}`, { cause: err });
}
