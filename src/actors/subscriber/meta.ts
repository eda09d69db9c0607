import type { CloudEvent } from '../../events/cloudevent.js';
import { causationOf, correlationOf } from '../../events/correlation.js';
import type { Delivery } from '../../transport/transport.js';

/**
 * What a handler learns about the event besides its payload.
 * @typeParam T - the event type. `rt.subscribe` infers the payload from the type it is given, never
 * from this parameter, so a handler may annotate its second argument as plain `EventMeta`.
 */
export interface EventMeta<T extends string = string> {
  readonly id: string;
  readonly type: T;
  readonly source: string;
  readonly time: string;
  /** 1-based: which try this is. */
  readonly attempt: number;
  readonly subject: string;
  /** Stream sequence, where the transport has one. */
  readonly seq: number | undefined;
  readonly headers: Readonly<Record<string, string>>;
  readonly traceparent: string | undefined;
  /**
   * The id of the chain this event belongs to: the CloudEvents extension `correlationid`, or the
   * event's own id when it starts a chain (a root event). Publishes inside the handler inherit it.
   */
  readonly correlationId: string;
  /** The id of the event whose handler published this one (extension `causationid`); undefined for a root event. */
  readonly causationId: string | undefined;
  /** The group this delivery belongs to. */
  readonly group: string;
  /** Aborted when this attempt times out. Created on first use; free when not read. */
  readonly signal: AbortSignal;
}

/** {@link EventMeta} built from a delivery without copying headers or creating a controller up front. */
export class DeliveryMeta implements EventMeta {
  private controller: AbortController | undefined;

  constructor(
    private readonly event: CloudEvent,
    private delivery: Delivery,
    readonly group: string,
  ) {}

  /** The delivery as its subscription counts tries (see `RecountedDelivery`). */
  recount(delivery: Delivery): void {
    this.delivery = delivery;
  }

  get id(): string {
    return this.event.id;
  }
  get type(): string {
    return this.event.type;
  }
  get source(): string {
    return this.event.source;
  }
  get time(): string {
    return this.event.time;
  }
  get attempt(): number {
    return this.delivery.attempt;
  }
  get subject(): string {
    return this.delivery.subject;
  }
  get seq(): number | undefined {
    return this.delivery.seq;
  }
  get headers(): Readonly<Record<string, string>> {
    return this.delivery.headers;
  }
  get traceparent(): string | undefined {
    return this.event.traceparent ?? this.delivery.header('traceparent');
  }
  get correlationId(): string {
    return correlationOf(this.event);
  }
  get causationId(): string | undefined {
    return causationOf(this.event);
  }
  get signal(): AbortSignal {
    this.controller ??= new AbortController();
    return this.controller.signal;
  }

  /** Aborts the signal, if anyone asked for it. */
  abort(reason: unknown): void {
    this.controller?.abort(reason);
  }

  toJSON(): Omit<EventMeta, 'signal'> {
    const { id, type, source, time, attempt, subject, seq, headers, traceparent, group } = this;
    const { correlationId, causationId } = this;
    return {
      id,
      type,
      source,
      time,
      attempt,
      subject,
      seq,
      headers,
      traceparent,
      correlationId,
      causationId,
      group,
    };
  }
}
