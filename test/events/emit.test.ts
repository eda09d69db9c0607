import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { memoryTransport } from '../../src/transport/memory/memory-transport.js';
import { createRuntime } from '../../src/runtime/create-runtime.js';
import { testEvents, user } from '../support/events.js';
import { useRuntimes } from '../support/runtime.js';
import { transportCases } from '../support/transports.js';
import { deferred, Gate, until, within } from '../support/wait.js';

/** A logger whose lines the test reads, and a wait for the first line that matches. */
function capturedLogger() {
  const lines: Record<string, any>[] = [];
  const waiters: { match: (l: Record<string, any>) => boolean; resolve: (l: Record<string, any>) => void }[] =
    [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const text of chunk.toString().split('\n')) {
        if (!text) continue;
        const line = JSON.parse(text) as Record<string, any>;
        lines.push(line);
        for (const w of waiters.filter((w) => w.match(line))) w.resolve(line);
      }
      done();
    },
  });
  const next = (match: (l: Record<string, any>) => boolean, what: string) => {
    const found = lines.find(match);
    if (found) return Promise.resolve(found);
    const d = deferred<Record<string, any>>();
    waiters.push({ match, resolve: d.resolve });
    return within(d.promise, { what });
  };
  return { logger: pino({ level: 'info' }, stream), lines, next };
}

/** The value of one series of `bulwark_publish_errors_total` in the runtime's metrics text. */
function publishErrors(text: string, type: string, reason: string): number {
  const line = text
    .split('\n')
    .find((l) => l.startsWith(`bulwark_publish_errors_total{type="${type}",reason="${reason}"`));
  return line ? Number(line.split(' ').pop()) : 0;
}

const failed = (l: Record<string, any>) => l.msg === 'emitted event not published';

describe('rt.emit never throws or rejects', () => {
  const rejections: unknown[] = [];
  const onRejection = (reason: unknown): void => void rejections.push(reason);
  beforeEach(() => {
    rejections.length = 0;
    process.on('unhandledRejection', onRejection);
  });
  afterEach(() => void process.off('unhandledRejection', onRejection));

  describe.each(transportCases)('on $name', (c) => {
    const { runtime } = useRuntimes(c);

    it('returns nothing at once and delivers the event', async () => {
      const rt = await runtime();
      const seen: string[] = [];
      await rt.subscribe('user.created', (p) => void seen.push(p.id)).ready;
      const out: unknown = rt.emit('user.created', user('1'));
      expect(out).toBeUndefined();
      await until(() => seen.length === 1, 'emitted event handled');
      expect(seen).toEqual(['1']);
    });

    it('logs and counts an invalid payload, and an unknown type, without an unhandled rejection', async () => {
      const { logger, next } = capturedLogger();
      const rt = await runtime('accounts', { logger });
      expect(() => rt.emit('user.created', { id: 1 } as never)).not.toThrow();
      const line = await next(failed, 'the failure logged');
      expect(line).toMatchObject({ level: 50, type: 'user.created', err: { type: 'ValidationError' } });
      expect(() => rt.emit('no.such.type' as never, {} as never)).not.toThrow();
      await next((l) => failed(l) && l.type === 'no.such.type', 'the unknown type logged');
      const text = await rt.metrics.text();
      expect(publishErrors(text, 'user.created', 'validation')).toBe(1);
      expect(publishErrors(text, 'no.such.type', 'validation')).toBe(1);
      // Rejections are reported after the microtask queue drains: one macrotask later.
      await new Promise((r) => setImmediate(r));
      expect(rejections).toEqual([]);
    });

    it('logs and counts an emit after shutdown, reason closed', async () => {
      const { logger, next } = capturedLogger();
      const rt = await runtime('accounts', { logger });
      await rt.shutdown();
      expect(() => rt.emit('user.created', user('2'))).not.toThrow();
      expect(await next(failed, 'the refusal logged')).toMatchObject({
        level: 40,
        type: 'user.created',
        err: { type: 'ClosedError' },
      });
      expect(publishErrors(await rt.metrics.text(), 'user.created', 'closed')).toBe(1);
      await new Promise((r) => setImmediate(r));
      expect(rejections).toEqual([]);
    });
  });

  it('logs and counts a publish the transport refuses (backpressure)', async () => {
    const { logger, next } = capturedLogger();
    const rt = await createRuntime({
      service: 'accounts',
      events: testEvents,
      transport: memoryTransport({ maxBacklog: 2 }),
      logger,
      handleSignals: false,
    });
    const gate = new Gate();
    let open = false;
    try {
      await rt.subscribe('user.created', async () => {
        if (!open) await gate.pass();
      }).ready;
      for (let i = 0; i < 5; i++) rt.emit('user.created', user(String(i)));
      const line = await next(failed, 'the refusal logged');
      expect(line).toMatchObject({ level: 50, type: 'user.created', err: { type: 'BackpressureError' } });
      expect(publishErrors(await rt.metrics.text(), 'user.created', 'backpressure')).toBeGreaterThan(0);
      await new Promise((r) => setImmediate(r));
      expect(rejections).toEqual([]);
    } finally {
      open = true;
      gate.openAll();
      await rt.shutdown();
    }
  });
});
