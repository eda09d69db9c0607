import { describe, expect, it } from 'vitest';
import { TimeWindowStrategy } from '../../src/breaker/time-window.js';

describe('time window', () => {
  const thresholds = { failureThreshold: 0.5, minimumRequests: 2, slowCallRateThreshold: 2 };

  it('counts calls made before one whole window has passed since time 0', () => {
    const w = new TimeWindowStrategy(10_000, 10, thresholds);
    w.record(true, false, 500);
    expect(w.failureRate(600)).toBe(1);
    expect(w.record(false, false, 2_500)).toBe(true);
    expect(w.failureRate(2_600)).toBe(0.5);
  });

  it('forgets calls once they age out of the window', () => {
    const w = new TimeWindowStrategy(10_000, 10, thresholds);
    w.record(true, false, 500);
    w.record(true, false, 1_500);
    expect(w.toJSON()).toMatchObject({ calls: 2, failures: 2 });
    w.failureRate(10_400); // the 1 s bucket of the call at 500 ms has left the 10 s window
    expect(w.toJSON()).toMatchObject({ calls: 1, failures: 1 });
    expect(w.failureRate(11_000)).toBe(0);
    expect(w.toJSON()).toMatchObject({ calls: 0 });
  });
});
