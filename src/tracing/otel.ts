import {
  context,
  ProxyTracerProvider,
  SpanKind,
  SpanStatusCode,
  trace,
  TraceFlags,
  type Span,
} from '@opentelemetry/api';
import { activeTrace, runWithTrace, type TraceContext } from './context.js';

// The no-op provider the API falls back to until an SDK registers; compared by identity.
const NOOP_PROVIDER = new ProxyTracerProvider().getDelegate();
const TRACER = 'bulwark';

let provider = trace.getTracerProvider();
let checks = 0;

/**
 * @returns true once an OpenTelemetry SDK has registered a tracer provider. It runs for every
 * publish and delivery, so the global provider is looked up again only every 1,024 calls.
 */
export function otelActive(): boolean {
  if ((++checks & 1023) === 0) provider = trace.getTracerProvider();
  return !(provider instanceof ProxyTracerProvider && provider.getDelegate() === NOOP_PROVIDER);
}

function parentContext(parent: TraceContext | undefined) {
  if (!parent) return context.active();
  return trace.setSpanContext(context.active(), {
    traceId: parent.traceId,
    spanId: parent.spanId,
    traceFlags: parent.sampled ? TraceFlags.SAMPLED : TraceFlags.NONE,
    isRemote: true,
  });
}

async function endWith<T>(span: Span, run: () => T): Promise<Awaited<T>> {
  try {
    return await run();
  } catch (err) {
    span.recordException(err as Error);
    span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
    throw err;
  } finally {
    span.end();
  }
}

/** What a span is named and tagged with. */
export interface SpanSpec {
  readonly name: string;
  readonly kind: 'producer' | 'consumer';
  readonly attributes: Record<string, string | number>;
  /** The remote parent (the publisher's span), for consumers. */
  readonly parent?: TraceContext;
}

/**
 * Runs `fn` inside an OpenTelemetry span when an SDK is registered; the span becomes bulwark's
 * active trace too, so log lines and nested publishes carry its ids. Without an SDK it just runs
 * `fn`: one identity check per call.
 * @example
 * await withSpan({ name: 'user.created process', kind: 'consumer', attributes: {} }, () => handler(p, meta));
 */
export function withSpan<T>(spec: SpanSpec, fn: () => T): T | Promise<Awaited<T>> {
  if (!otelActive()) return fn();
  const kind = spec.kind === 'producer' ? SpanKind.PRODUCER : SpanKind.CONSUMER;
  const parent = spec.parent ?? activeTrace();
  const span = trace
    .getTracer(TRACER)
    .startSpan(
      spec.name,
      { kind, attributes: { 'messaging.system': 'bulwark', ...spec.attributes } },
      parentContext(parent),
    );
  const sc = span.spanContext();
  const ours: TraceContext = { traceId: sc.traceId, spanId: sc.spanId, sampled: (sc.traceFlags & 1) === 1 };
  return context.with(trace.setSpan(context.active(), span), () =>
    runWithTrace(ours, () => endWith(span, fn)),
  );
}
