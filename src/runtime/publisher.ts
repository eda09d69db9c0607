import type { EventRegistry, EventSchemas, EventTypeOf, PayloadInput } from '../events/registry.js';
import type { LineageOptions } from '../events/correlation.js';
import { isClosedError } from '../errors.js';
import { silentLogger, type Logger } from '../logging.js';
import type { RuntimeMetrics } from '../metrics/metrics.js';
import { otelActive } from '../tracing/otel.js';
import type { OutboundMessage, PublishReceipt, Transport } from '../transport/transport.js';
import { buildEnvelope, headersFor, type PublishOptions } from './envelope.js';
import { publishSpan } from '../tracing/spans.js';

/** One item of `rt.publishMany`. */
export type PublishItem<S extends EventSchemas> = {
  [T in EventTypeOf<S>]: {
    type: T;
    payload: PayloadInput<S, T>;
    id?: string;
    headers?: Record<string, string>;
  } & LineageOptions;
}[EventTypeOf<S>];

/**
 * A runtime's publishing path: validates a payload against the event registry, wraps it in a
 * CloudEvent, hands it to the transport and counts the outcome. `rt.publish` and `rt.publishMany`
 * are this, behind the runtime's open check.
 * @example
 * const publisher = new EventPublisher('accounts', events, transport, metrics);
 * await publisher.publish('user.created', { id: '1', username: 'ada', role: 'user' });
 */
export class EventPublisher {
  constructor(
    private readonly service: string,
    private readonly events: Pick<EventRegistry<EventSchemas>, 'parse' | 'dataschema'>,
    private readonly transport: Transport,
    private readonly metrics: RuntimeMetrics,
    /** Where `emit` reports what it could not publish. */
    private readonly logger: Logger = silentLogger,
  ) {}

  /**
   * @throws {ValidationError} for an invalid payload or an unknown type; nothing is published
   * @throws {BackpressureError} when the broker is unreachable and the outbox is full
   */
  async publish(type: string, payload: unknown, options?: PublishOptions): Promise<PublishReceipt> {
    if (otelActive()) return this.publishTraced(type, payload, options);
    // The plain path allocates no closure: a publish is on every service's hot path.
    try {
      const receipt = await this.transport.publish(this.outbound(type, payload, options));
      this.metrics.onPublished(type);
      return receipt;
    } catch (err) {
      this.metrics.onPublishError(type, err);
      throw err;
    }
  }

  private async publishTraced(type: string, payload: unknown, options: PublishOptions | undefined) {
    const stored = publishSpan(type, options, (o) => this.transport.publish(this.outbound(type, payload, o)));
    stored.then(
      () => this.metrics.onPublished(type),
      (err: unknown) => this.metrics.onPublishError(type, err),
    );
    return stored;
  }

  /**
   * Publishes and forgets: never throws or rejects. A failure (an invalid payload, a refusal, a
   * closed runtime) is logged and counted in `bulwark_publish_errors_total` by its reason.
   */
  emit(type: string, payload: unknown, options: PublishOptions | undefined): void {
    this.publish(type, payload, options).then(undefined, (err: unknown) => this.emitFailed(type, err));
  }

  /** An emit refused before it reached the publish path (the runtime is shut down): logged and counted. */
  emitRefused(type: string, err: Error): void {
    this.metrics.onPublishError(type, err);
    this.emitFailed(type, err);
  }

  private emitFailed(type: string, err: unknown): void {
    try {
      // Shutting down drops what is emitted late: expected, not an incident.
      this.logger[isClosedError(err) ? 'warn' : 'error']({ err, type }, 'emitted event not published');
    } catch {
      // A logger that throws must not turn a fire-and-forget call into an unhandled rejection.
    }
  }

  /** @throws {ValidationError} naming the first invalid item; nothing is published */
  async publishMany(
    items: readonly ({
      type: string;
      payload: unknown;
      id?: string;
      headers?: Record<string, string>;
    } & LineageOptions)[],
  ): Promise<PublishReceipt[]> {
    const messages = items.map((item) => this.outbound(item.type, item.payload, item));
    return this.transport.publishMany(messages).then(
      (receipts) => (messages.forEach((m) => this.metrics.onPublished(m.type)), receipts),
      (err: unknown) => (
        messages.forEach((m) => this.metrics.onPublishError(m.type, err)),
        Promise.reject(err as Error)
      ),
    );
  }

  private outbound(type: string, payload: unknown, options: PublishOptions | undefined): OutboundMessage {
    const data = this.events.parse(type, payload);
    const event = buildEnvelope(this.service, type, data, options, this.events.dataschema(type));
    const msg: OutboundMessage = {
      type,
      event,
      msgId: event.id,
      uniqueId: options?.id === undefined,
      headers: headersFor(event, options?.headers),
    };
    return options?.delayMs === undefined ? msg : { ...msg, delayMs: options.delayMs };
  }
}
