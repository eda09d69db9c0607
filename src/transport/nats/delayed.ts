import type { JetStreamManager, JsMsg } from '@nats-io/jetstream';
import { CLOUDEVENTS_CONTENT_TYPE, encodeEvent } from '../../events/cloudevent.js';
import { ValidationError } from '../../errors.js';
import type { Logger } from '../../logging.js';
import { TRACEPARENT_HEADER, type OutboundMessage, type PublishReceipt } from '../transport.js';
import type { Publisher } from './publisher.js';
import type { Names } from './toolkit/names.js';
import type { ResolvedNatsOptions } from './toolkit/options.js';
import { ensureDelayedStream } from './toolkit/provision.js';
import { DueSecondMover, dueSecond } from './toolkit/due-seconds.js';
import { WireHeader } from './toolkit/wire.js';

/** The header that keeps a delayed event's type on the delay stream (its subject names only its due second). */
const DELAYED_TYPE_HEADER = 'bulwark-delayed-type';

/** @throws {ValidationError} unless `delayMs` is a finite number of ms, 0 or more */
export function checkDelay(delayMs: number): void {
  if (!(Number.isFinite(delayMs) && delayMs >= 0))
    throw new ValidationError(`delayMs must be a finite number of ms, 0 or more (got ${delayMs})`);
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
 * Moves due delayed events to their events subjects, keyed by each event's dedup key (see
 * {@link DueSecondMover}).
 * @example
 * const mover = new DelayedMover(host);
 * mover.start();
 * await mover.stop();
 */
export class DelayedMover extends DueSecondMover {
  constructor(host: DelayedHost) {
    const { names, logger, options } = host;
    super(
      {
        stream: names.delayedStream,
        wildcard: names.delayedWildcard,
        subject: (second) => names.delayedSubject(second),
        secondOf: (subject) => names.dueSecondOf(subject),
        forward: (m) => republishEvent(host, m),
      },
      { jsm: host.jsm, logger, requestTimeoutMs: options.requestTimeoutMs },
    );
  }
}

/** Publishes a due event to its events subject under its dedup key. */
function republishEvent(host: DelayedHost, m: JsMsg): Promise<unknown> {
  const headers: Record<string, string> = {};
  for (const key of m.headers?.keys() ?? []) headers[key] = m.headers!.get(key);
  const type = headers[DELAYED_TYPE_HEADER];
  const msgId = headers[WireHeader.msgId] || `delayed:${m.seq}`;
  delete headers[DELAYED_TYPE_HEADER];
  delete headers[WireHeader.msgId];
  if (!type) {
    host.logger.error({ seq: m.seq, subject: m.subject }, 'delayed message without a type; dropped');
    return Promise.resolve();
  }
  return host.publisher.publishRaw(host.names.eventSubject(type), m.data, msgId, headers);
}
