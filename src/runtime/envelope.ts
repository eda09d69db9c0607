import type { CloudEvent } from '../events/cloudevent.js';
import { lineage, type LineageOptions } from '../events/correlation.js';
import { isoTime, uuidv7 } from '../events/ids.js';
import { activeTrace, childSpan, formatTraceparent } from '../tracing/context.js';

/** Options of `rt.publish`; `correlationId` / `causationId` travel as the CloudEvents extensions `correlationid` / `causationid`. */
export interface PublishOptions extends LineageOptions {
  /** The CloudEvent id and dedup key. @default a new UUID v7 */
  id?: string;
  /** Extra transport headers (NATS headers on JetStream). */
  headers?: Record<string, string>;
  /** W3C trace context to continue. @default the active trace, if any */
  traceparent?: string;
  /** @default now */
  time?: Date;
  /**
   * Delivered no earlier than this many ms from now (never early); `publish` resolves once the
   * delayed event is stored durably. @default 0 (at once)
   */
  delayMs?: number;
}

/** Builds the CloudEvent for a validated payload. */
export function buildEnvelope(
  source: string,
  type: string,
  data: unknown,
  opts: PublishOptions | undefined,
  /** The type's `dataschema` (`registry.dataschema(type)`): versioned types only. */
  dataschema?: string,
): CloudEvent {
  const traceparent = opts?.traceparent ?? currentTraceparent();
  const base = {
    specversion: '1.0' as const,
    id: opts?.id ?? uuidv7(),
    source,
    type,
    time: opts?.time ? opts.time.toISOString() : isoTime(),
    datacontenttype: 'application/json',
    data,
  };
  if (dataschema !== undefined) (base as { dataschema?: string }).dataschema = dataschema;
  // Inside a handler the event descends from the one being handled (see events/correlation.ts).
  const ids = lineage(opts);
  if (ids === undefined) return traceparent === undefined ? base : { ...base, traceparent };
  return traceparent === undefined ? { ...base, ...ids } : { ...base, ...ids, traceparent };
}

function currentTraceparent(): string | undefined {
  const active = activeTrace();
  return active ? formatTraceparent(childSpan(active)) : undefined;
}

/** Transport headers of an event: the caller's, plus `traceparent` when the event has one. */
export function headersFor(
  event: CloudEvent,
  extra: Record<string, string> | undefined,
): Record<string, string> | undefined {
  if (event.traceparent === undefined) return extra;
  return { ...extra, traceparent: event.traceparent };
}
