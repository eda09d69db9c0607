import { activeTrace, formatTraceparent, parseTraceparent } from './context.js';
import { otelActive, withSpan } from './otel.js';

/** Wraps a handler in a consumer span when an OpenTelemetry SDK is registered (a plain call otherwise). */
export function tracedHandler<P, M extends { readonly traceparent?: string | undefined }>(
  type: string,
  group: string,
  handler: (payload: P, meta: M) => unknown,
): (payload: P, meta: M) => unknown {
  const attributes = { 'messaging.destination.name': type, 'messaging.consumer.group.name': group };
  const name = `${type} process`;
  return (payload, meta) => {
    if (!otelActive()) return handler(payload, meta);
    const parent = parseTraceparent(meta.traceparent);
    return withSpan({ name, kind: 'consumer', attributes, ...(parent && { parent }) }, () =>
      handler(payload, meta),
    );
  };
}

/**
 * Runs a publish in a PRODUCER span when an OpenTelemetry SDK is registered: the event carries the
 * span's `traceparent`, so the consumer's span is its child. A plain call otherwise.
 */
export function publishSpan<T, O extends { readonly traceparent?: string | undefined }>(
  type: string,
  options: O | undefined,
  publish: (options: O | undefined) => Promise<T>,
): Promise<T> {
  if (!otelActive()) return publish(options);
  const parent = parseTraceparent(options?.traceparent);
  const spec = {
    name: `${type} publish`,
    kind: 'producer' as const,
    attributes: { 'messaging.destination.name': type },
  };
  return withSpan({ ...spec, ...(parent && { parent }) }, () =>
    publish({ ...options, traceparent: formatTraceparent(activeTrace()!) } as O),
  );
}
