import { describe, expect, it } from 'vitest';
import { exponential, fixed, linear } from '../../src/retry/backoff.js';

const sequence = (values: number[]) => {
  let i = 0;
  return () => values[i++ % values.length]!;
};

describe('backoff policies', () => {
  it('exponential without jitter doubles from initialMs and caps at maxMs', () => {
    const b = exponential({ initialMs: 100, maxMs: 1_000, jitter: 'none' });
    expect([1, 2, 3, 4, 5, 6].map((n) => b.delay(n))).toEqual([100, 200, 400, 800, 1_000, 1_000]);
  });

  it('exponential honours a custom factor', () => {
    const b = exponential({ initialMs: 10, factor: 3, maxMs: 10_000, jitter: 'none' });
    expect([1, 2, 3].map((n) => b.delay(n))).toEqual([10, 30, 90]);
  });

  it('full jitter draws in [0, base)', () => {
    const b = exponential({ initialMs: 1_000, jitter: 'full', random: sequence([0, 0.5, 0.999]) });
    expect([b.delay(1), b.delay(1), b.delay(1)]).toEqual([0, 500, 999]);
  });

  it('equal jitter draws in [base/2, base)', () => {
    const b = exponential({ initialMs: 1_000, jitter: 'equal', random: sequence([0, 0.5]) });
    expect([b.delay(1), b.delay(1)]).toEqual([500, 750]);
  });

  it('decorrelated jitter stays within [initialMs, maxMs] and grows from the previous delay', () => {
    const b = exponential({
      initialMs: 100,
      maxMs: 2_000,
      jitter: 'decorrelated',
      random: sequence([1 - 1e-9]),
    });
    const delays = [1, 2, 3, 4, 5].map((n) => b.delay(n));
    expect(delays[0]).toBeGreaterThanOrEqual(100);
    expect(delays[1]).toBeGreaterThan(delays[0]!);
    expect(Math.max(...delays)).toBeLessThanOrEqual(2_000);
  });

  it('linear adds stepMs per attempt and caps at maxMs; defaults to full jitter', () => {
    const b = linear({ initialMs: 100, stepMs: 50, maxMs: 220, jitter: 'none' });
    expect([1, 2, 3, 4].map((n) => b.delay(n))).toEqual([100, 150, 200, 220]);
    const jittered = linear({ initialMs: 100, random: () => 0.5 });
    expect(jittered.delay(2)).toBe(100);
  });

  it('fixed is constant and defaults to no jitter', () => {
    const b = fixed({ delayMs: 250 });
    expect([1, 5, 50].map((n) => b.delay(n))).toEqual([250, 250, 250]);
  });
});
