import { describe, expect, it } from 'vitest';
import { AlertThrottle } from '../../src/health/alerts.js';
import type { HealthStatus } from '../../src/health/types.js';
import { testLogger } from '../support/events.js';
import { TestClock } from '../support/clock.js';

function setupAlerts(minInterval = 60_000) {
  const clock = new TestClock();
  const sent: { at: number; id: string; status: HealthStatus }[] = [];
  const alerts = new AlertThrottle(clock, testLogger);
  alerts.configure({ handler: (id, status) => void sent.push({ at: clock.now(), id, status }), minInterval });
  return { clock, sent, alerts };
}

describe('alert throttling', () => {
  it('sends the first change at once and at most one per service per minInterval', () => {
    const { clock, sent, alerts } = setupAlerts();
    alerts.change('payments', 'DEGRADED', 'breaker open');
    for (let i = 0; i < 100; i++) {
      clock.advance(100);
      alerts.change('payments', i % 2 ? 'UNHEALTHY' : 'DEGRADED', 'flapping');
    }
    expect(sent).toEqual([{ at: 0, id: 'payments', status: 'DEGRADED' }]);
    clock.advance(50_000);
    expect(sent).toHaveLength(2);
    expect(sent[1]).toEqual({ at: 60_000, id: 'payments', status: 'UNHEALTHY' });
  });

  it('always reports the settled state once the interval has passed', () => {
    const { clock, sent, alerts } = setupAlerts(10_000);
    alerts.change('db', 'UNHEALTHY', 'down');
    clock.advance(1_000);
    alerts.change('db', 'DEGRADED', 'recovering');
    clock.advance(1_000);
    alerts.change('db', 'HEALTHY', 'back');
    clock.advance(7_999);
    expect(sent.map((s) => s.status)).toEqual(['UNHEALTHY']);
    clock.advance(1);
    expect(sent.map((s) => [s.at, s.status])).toEqual([
      [0, 'UNHEALTHY'],
      [10_000, 'HEALTHY'],
    ]);
    clock.advance(100_000);
    expect(sent).toHaveLength(2);
  });

  it('does not resend a flap that settled back to the state already reported', () => {
    const { clock, sent, alerts } = setupAlerts(10_000);
    alerts.change('db', 'UNHEALTHY', 'down');
    clock.advance(1_000);
    alerts.change('db', 'HEALTHY', 'up');
    clock.advance(1_000);
    alerts.change('db', 'UNHEALTHY', 'down again');
    clock.advance(20_000);
    expect(sent.map((s) => s.status)).toEqual(['UNHEALTHY']);
  });

  it('throttles each service on its own', () => {
    const { sent, alerts } = setupAlerts();
    alerts.change('a', 'DEGRADED', '');
    alerts.change('b', 'UNHEALTHY', '');
    alerts.change('a', 'UNHEALTHY', '');
    expect(sent.map((s) => `${s.id}:${s.status}`)).toEqual(['a:DEGRADED', 'b:UNHEALTHY']);
  });

  it('a change after a quiet interval is sent at once; disabled config sends nothing', () => {
    const { clock, sent, alerts } = setupAlerts(1_000);
    alerts.change('a', 'DEGRADED', '');
    clock.advance(5_000);
    alerts.change('a', 'HEALTHY', '');
    expect(sent.map((s) => s.at)).toEqual([0, 5_000]);
    alerts.configure({ enabled: false, handler: () => expect.fail('disabled') });
    alerts.change('a', 'UNHEALTHY', '');
    clock.advance(5_000);
  });
});
