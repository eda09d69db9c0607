import { randomBytes } from 'node:crypto';
import {
  trace,
  type Context,
  type Span,
  type SpanContext,
  type SpanOptions,
  type Tracer,
  type TracerProvider,
} from '@opentelemetry/api';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { createRuntime } from '../../src/runtime/create-runtime.js';
import { activeTrace, formatTraceparent } from '../../src/tracing/context.js';
import { otelActive } from '../../src/tracing/otel.js';
import { testEvents, user } from '../support/events.js';
import { until } from '../support/wait.js';

interface Recorded {
  name: string;
  kind: number | undefined;
  parent: SpanContext | undefined;
  context: SpanContext;
  ended: boolean;
  error?: string;
}

/** The smallest tracer provider an SDK would register: records spans in memory. */
function recordingProvider(spans: Recorded[]): TracerProvider {
  const tracer: Tracer = {
    startSpan(name: string, options?: SpanOptions, ctx?: Context): Span {
      const parent = ctx ? trace.getSpanContext(ctx) : undefined;
      const context: SpanContext = {
        traceId: parent?.traceId ?? randomBytes(16).toString('hex'),
        spanId: randomBytes(8).toString('hex'),
        traceFlags: 1,
      };
      const rec: Recorded = { name, kind: options?.kind, parent, context, ended: false };
      spans.push(rec);
      const span = {
        spanContext: () => context,
        setAttribute: () => span,
        setAttributes: () => span,
        addEvent: () => span,
        addLink: () => span,
        addLinks: () => span,
        setStatus: (s: { message?: string }) => ((rec.error = s.message), span),
        updateName: () => span,
        end: () => void (rec.ended = true),
        isRecording: () => true,
        recordException: () => undefined,
      } as unknown as Span;
      return span;
    },
    startActiveSpan: () => {
      throw new Error('unused');
    },
  };
  return { getTracer: () => tracer };
}

describe('OpenTelemetry spans', () => {
  afterAll(() => trace.disable());

  it('are no-ops until an SDK registers, then wrap handlers in consumer spans parented by the publisher', async () => {
    expect(otelActive()).toBe(false);
    const spans: Recorded[] = [];
    trace.setGlobalTracerProvider(recordingProvider(spans));
    expect(otelActive()).toBe(true);

    const rt = await createRuntime({
      service: 'a',
      events: testEvents,
      logger: pino({ level: 'silent' }),
      handleSignals: false,
    });
    const inside: (string | undefined)[] = [];
    await rt.subscribe(
      'user.created',
      (p) => {
        inside.push(activeTrace()?.spanId);
        if (p.role === 'admin') throw new Error('no admins');
      },
      { maxAttempts: 1 },
    ).ready;
    const parent = { traceId: 'a'.repeat(32), spanId: 'b'.repeat(16), sampled: true };
    await rt.publish('user.created', user('1'), { traceparent: formatTraceparent(parent) });
    await rt.publish('user.created', user('2', 'root', 'admin'), { traceparent: formatTraceparent(parent) });
    await until(() => spans.filter((s) => s.ended).length === 4, 'four spans ended');
    const producers = spans.filter((s) => s.name === 'user.created publish');
    const [ok, failed] = spans.filter((s) => s.name === 'user.created process');
    expect(producers).toHaveLength(2);
    expect(producers[0]).toMatchObject({
      kind: 3 /* PRODUCER */,
      parent: { traceId: parent.traceId, spanId: parent.spanId },
    });
    expect(ok).toMatchObject({ name: 'user.created process', kind: 4 /* CONSUMER */, ended: true });
    expect(ok?.parent).toMatchObject({
      traceId: parent.traceId,
      spanId: producers[0]?.context.spanId,
      isRemote: true,
    });
    expect(ok?.context.traceId).toBe(parent.traceId);
    expect(inside[0]).toBe(ok?.context.spanId);
    expect(failed?.error).toBe('no admins');
    await rt.shutdown();
  });
});
