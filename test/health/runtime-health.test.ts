import { describe, expect, it } from 'vitest';
import { createRuntime } from '../../src/runtime/create-runtime.js';
import type { HealthStatus } from '../../src/health/types.js';
import { testEvents, testLogger } from '../support/events.js';
import { until } from '../support/wait.js';

describe('runtime health', () => {
  it("a registered service's breaker opening raises an alert at once, and its closing once it settles", async () => {
    const rt = await createRuntime({
      service: 'shop',
      events: testEvents,
      logger: testLogger,
      handleSignals: false,
    });
    const stripe = rt.breaker('stripe', { failureThreshold: 1, resetTimeoutMs: 60_000 });
    rt.health.registerService({
      id: 'payments',
      name: 'Payments',
      circuitBreaker: stripe,
      critical: true,
      tags: ['api'],
    });
    const alerts: [string, HealthStatus, string][] = [];
    rt.health.setAlertConfig({
      handler: (id, status, msg) => void alerts.push([id, status, msg]),
      minInterval: 60_000,
    });
    await rt.health.report();
    await stripe.execute(() => Promise.reject(new Error('down'))).catch(() => undefined);
    await until(() => alerts.length === 2, 'alerts for the service and the runtime');
    expect(alerts).toEqual(
      expect.arrayContaining([
        ['payments', 'UNHEALTHY', 'Payments is UNHEALTHY'],
        ['shop', 'UNHEALTHY', expect.stringMatching(/payments: UNHEALTHY/)],
      ]),
    );
    const report = await rt.health.report();
    expect(report.circuitBreakers['stripe']).toMatchObject({ name: 'stripe', state: 'OPEN' });
    expect(report.services['payments']).toMatchObject({
      status: 'UNHEALTHY',
      breaker: 'stripe',
      tags: ['api'],
    });
    stripe.close();
    await rt.health.report();
    expect(alerts).toHaveLength(2); // inside minInterval: held back until it passes
    await rt.shutdown();
  });
});
