import { describe, expect, it } from 'vitest';
import { Supervisor } from '../../src/actors/supervisor/supervisor.js';
import { systemClock, type Clock } from '../../src/time/clock.js';
import { HealthMonitor } from '../../src/health/health.js';
import type { BreakerLike, HealthStatus } from '../../src/health/types.js';
import { memoryTransport } from '../../src/transport/memory/memory-transport.js';
import { testLogger } from '../support/events.js';
import { TestClock } from '../support/clock.js';

type BreakerState = 'CLOSED' | 'OPEN' | 'HALF_OPEN';

function fakeBreaker(name: string, state: BreakerState): BreakerLike & { state: BreakerState } {
  return {
    state,
    stats() {
      return { name, state: this.state, failureRate: state === 'CLOSED' ? 0 : 1, totalRequests: 10 };
    },
  };
}

function monitor(clock: Clock = systemClock, builtinChecks = false) {
  const supervisor = new Supervisor({ clock, logger: testLogger });
  return new HealthMonitor({
    service: 'accounts',
    version: '1.2.3',
    instanceId: 'accounts-1',
    clock,
    logger: testLogger,
    transport: memoryTransport(),
    supervisor,
    builtinChecks,
  });
}

/** The rule, written out independently of the implementation. */
function expected(
  critical: boolean,
  optional: boolean,
  breaker: BreakerState,
  serviceCritical: boolean,
): HealthStatus {
  if (!critical) return 'UNHEALTHY';
  if (breaker === 'OPEN' && serviceCritical) return 'UNHEALTHY';
  if (!optional || breaker !== 'CLOSED') return 'DEGRADED';
  return 'HEALTHY';
}

const cases = [true, false].flatMap((critical) =>
  [true, false].flatMap((optional) =>
    (['CLOSED', 'OPEN', 'HALF_OPEN'] as const).flatMap((breaker) =>
      [true, false].map((serviceCritical) => ({
        critical,
        optional,
        breaker,
        serviceCritical,
        status: expected(critical, optional, breaker, serviceCritical),
      })),
    ),
  ),
);

describe('health aggregation', () => {
  it.each(cases)(
    'critical check healthy=$critical, optional healthy=$optional, breaker $breaker (critical service: $serviceCritical) -> $status',
    async ({ critical, optional, breaker, serviceCritical, status }) => {
      const health = monitor();
      health.register({ name: 'db', critical: true, check: () => ({ healthy: critical, message: 'db' }) });
      health.register({ name: 'cache', check: async () => ({ healthy: optional }) });
      health.registerService({
        id: 'payments',
        name: 'Payments',
        circuitBreaker: fakeBreaker('stripe', breaker),
        critical: serviceCritical,
        tags: ['api'],
      });
      const report = await health.report();
      expect(report.status).toBe(status);
      expect(report.checks['db']).toMatchObject({
        status: critical ? 'HEALTHY' : 'UNHEALTHY',
        critical: true,
      });
      expect(report.checks['cache']?.status).toBe(optional ? 'HEALTHY' : 'UNHEALTHY');
      expect(report.circuitBreakers['stripe']).toMatchObject({ name: 'stripe', state: breaker });
      health.stop();
    },
  );

  it('reports the API shape: service, version, timestamp, response times and uptime', async () => {
    const health = monitor(systemClock, true);
    const report = await health.report();
    expect(report).toMatchObject({ service: 'accounts', version: '1.2.3', status: 'HEALTHY', actors: {} });
    expect(Object.keys(report.checks).sort()).toEqual(['event-loop', 'memory', 'transport']);
    expect(report.checks['transport']).toMatchObject({ status: 'HEALTHY', critical: true });
    for (const c of Object.values(report.checks)) {
      expect(c.responseTime).toBeGreaterThanOrEqual(0);
      expect(c.uptime).toBeGreaterThanOrEqual(0);
    }
    expect(Date.parse(report.timestamp)).not.toBeNaN();
    health.stop();
  });

  it('is UNKNOWN with nothing to judge, and UNKNOWN when a critical check says so', async () => {
    const health = monitor();
    expect((await health.report()).status).toBe('UNKNOWN');
    health.register({ name: 'x', critical: true, check: () => ({ healthy: false, status: 'UNKNOWN' }) });
    expect((await health.report()).status).toBe('UNKNOWN');
  });

  it('a check past its timeout, or one that throws, is UNHEALTHY with the reason', async () => {
    const clock = new TestClock();
    const health = monitor(clock);
    health.register({
      name: 'slow',
      critical: true,
      timeoutMs: 500,
      check: () => new Promise(() => undefined),
    });
    health.register({ name: 'broken', check: () => Promise.reject(new Error('no route')) });
    const pending = health.report();
    await Promise.resolve();
    clock.advance(500);
    const report = await pending;
    expect(report.checks['slow']).toMatchObject({ status: 'UNHEALTHY', responseTime: 500 });
    expect(report.checks['slow']?.message).toMatch(/timed out after 500 ms/);
    expect(report.checks['broken']).toMatchObject({ status: 'UNHEALTHY', message: 'no route' });
    expect(report.status).toBe('UNHEALTHY');
  });

  it('overrides hold the overall status, a check or a service until cleared', async () => {
    const health = monitor();
    health.register({ name: 'db', critical: true, check: () => ({ healthy: true }) });
    health.registerService({ id: 'payments', name: 'Payments', circuitBreaker: fakeBreaker('s', 'CLOSED') });
    health.setOverride('UNHEALTHY', 'maintenance', 'db');
    expect((await health.report()).status).toBe('UNHEALTHY');
    health.setOverride(undefined, undefined, 'db');
    health.setOverride('DEGRADED', 'flaky upstream', 'payments');
    expect((await health.report()).services['payments']?.status).toBe('DEGRADED');
    health.setOverride('HEALTHY', 'forced');
    const report = await health.report();
    expect(report.status).toBe('HEALTHY');
    expect(report.override).toEqual({ status: 'HEALTHY', message: 'forced' });
  });
});
