import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { createRuntime } from '../../src/runtime/create-runtime.js';
import { formatTraceparent, runWithTrace } from '../../src/tracing/context.js';
import { withTraceFields } from '../../src/tracing/log-fields.js';
import { memoryTransport } from '../../src/transport/memory/memory-transport.js';
import { testEvents, user } from '../support/events.js';
import { until } from '../support/wait.js';

/** A pino logger whose JSON lines the test can read. */
function capturedLogger() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split('\n'))
        if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ level: 'info' }, stream), lines };
}

const trace = { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', sampled: true };

describe('trace ids in log lines', () => {
  it('a trace published in one runtime appears in the handler log lines of another', async () => {
    const bus = memoryTransport();
    const producer = await createRuntime({
      service: 'web',
      events: testEvents,
      transport: bus,
      logger: pino({ level: 'silent' }),
      handleSignals: false,
    });
    const { logger, lines } = capturedLogger();
    const consumer = await createRuntime({
      service: 'mailer',
      events: testEvents,
      transport: bus,
      logger,
      handleSignals: false,
    });
    let handled = 0;
    await consumer.subscribe('user.created', (p) => {
      consumer.logger.info({ user: p.id }, 'sending welcome mail');
      handled++;
    }).ready;
    await runWithTrace(trace, () => producer.publish('user.created', user('1')));
    await producer.publish('user.created', user('2'));
    await until(() => handled === 2, 'both handled');
    const mails = lines.filter((l) => l['msg'] === 'sending welcome mail');
    const traced = mails.find((l) => l['user'] === '1');
    expect(traced).toMatchObject({ traceId: trace.traceId, instance: expect.stringMatching(/^mailer-/) });
    expect(traced?.['spanId']).toMatch(/^[0-9a-f]{16}$/);
    expect(traced?.['spanId']).not.toBe(trace.spanId);
    expect(mails.find((l) => l['user'] === '2')?.['traceId']).toBeUndefined();
    await Promise.all([producer.shutdown(), consumer.shutdown()]);
  });

  it('the handler sees the traceparent it was published with, and nested publishes continue the trace', async () => {
    const rt = await createRuntime({
      service: 'a',
      events: testEvents,
      logger: pino({ level: 'silent' }),
      handleSignals: false,
    });
    const seen: (string | undefined)[] = [];
    await rt.subscribe('user.created', async (p, meta) => {
      seen.push(meta.traceparent);
      if (p.id === '1') await rt.publish('availability.created', { staffId: p.id, day: 'mon' });
    }).ready;
    await rt.subscribe('availability.created', (_p, meta) => void seen.push(meta.traceparent)).ready;
    await rt.publish('user.created', user('1'), { traceparent: formatTraceparent(trace) });
    await until(() => seen.length === 2, 'both handled');
    expect(seen[0]).toBe(formatTraceparent(trace));
    expect(seen[1]).toMatch(new RegExp(`^00-${trace.traceId}-[0-9a-f]{16}-01$`));
    await rt.shutdown();
  });

  it("keeps the user's own log formatter and adds nothing outside a trace", () => {
    const { lines } = capturedLogger();
    const stream = new Writable({
      write(chunk: Buffer, _e, done) {
        lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
        done();
      },
    });
    const base = pino({ formatters: { log: (o) => ({ ...o, tagged: true }) } }, stream);
    const logger = withTraceFields(base, { instance: 'x' });
    logger.info('outside');
    runWithTrace(trace, () => logger.child({ actor: 'a' }).info('inside'));
    expect(lines[0]).toMatchObject({ msg: 'outside', tagged: true, instance: 'x' });
    expect(lines[0]?.['traceId']).toBeUndefined();
    expect(lines[1]).toMatchObject({
      msg: 'inside',
      tagged: true,
      actor: 'a',
      traceId: trace.traceId,
      spanId: trace.spanId,
    });
  });
});
