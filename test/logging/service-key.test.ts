import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { serviceLogger } from '../../src/logging.js';
import { createRuntime } from '../../src/runtime/create-runtime.js';
import { memoryTransport } from '../../src/transport/memory/memory-transport.js';
import { testEvents } from '../support/events.js';
import { until } from '../support/wait.js';

/** A pino logger writing into an array: each line as written (text) and parsed. */
function captured(options: pino.LoggerOptions = {}): { logger: pino.Logger; lines: string[] } {
  const lines: string[] = [];
  const logger = pino({ level: 'info', ...options }, { write: (line: string) => void lines.push(line) });
  return { logger, lines };
}

/** How often `key` appears as a key in one JSON line (JSON.parse would keep only the last). */
const keyCount = (line: string, key: string): number => line.split(`"${key}":`).length - 1;

describe('log lines', () => {
  it('a user-supplied logger gets a child with service; one that binds service keeps its own', () => {
    const plain = captured();
    serviceLogger('accounts', plain.logger).info('hello');
    expect(JSON.parse(plain.lines[0]!)).toMatchObject({ service: 'accounts', msg: 'hello' });
    const own = captured({ base: { service: 'billing-api' } });
    serviceLogger('accounts', own.logger).info('hello');
    expect(keyCount(own.lines[0]!, 'service')).toBe(1);
    expect(JSON.parse(own.lines[0]!)).toMatchObject({ service: 'billing-api' });
  });

  it('"health changed" names service once, and the service that changed as target', async () => {
    const { logger, lines } = captured();
    const rt = await createRuntime({
      service: 'accounts',
      events: testEvents,
      transport: memoryTransport(),
      logger,
      handleSignals: false,
    });
    const payments = rt.breaker('payments', { failureThreshold: 1 });
    rt.health.registerService({ id: 'payments-api', name: 'Payments API', circuitBreaker: payments });
    rt.health.start(10);
    await rt.health.report();
    payments.open();
    const changed = () => lines.filter((l) => l.includes('"msg":"health changed"'));
    await until(() => changed().length >= 2, 'health changes logged');
    for (const line of changed()) expect(keyCount(line, 'service'), line).toBe(1);
    const parsed = changed().map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(parsed).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ service: 'accounts', target: 'accounts', from: 'HEALTHY', to: 'DEGRADED' }),
        expect.objectContaining({
          service: 'accounts',
          target: 'payments-api',
          from: 'HEALTHY',
          to: 'DEGRADED',
        }),
      ]),
    );
    // Every line of the runtime, from any actor, says which service wrote it.
    expect(
      lines.map((l) => JSON.parse(l) as { service?: string }).every((l) => l.service === 'accounts'),
    ).toBe(true);
    await rt.shutdown();
  });
});
