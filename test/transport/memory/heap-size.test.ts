import { describe, expect, it } from 'vitest';
import { heapSize } from '../../../src/transport/memory/heap-size.js';
import { MESSAGE_OVERHEAD, SizeEstimate, rawSize } from '../../../src/transport/memory/size-estimate.js';
import type { CloudEvent } from '../../../src/events/cloudevent.js';

const envelope = (data: unknown): CloudEvent => ({
  specversion: '1.0',
  id: '0190a3f2-7c1e-7b3a-9d2e-4f5a6b7c8d9e',
  source: 'accounts',
  type: 'user.created',
  time: '2026-01-01T00:00:00.000Z',
  datacontenttype: 'application/json',
  data,
});

describe('heapSize', () => {
  it('grows with what a value holds', () => {
    expect(heapSize('x'.repeat(1_000))).toBeGreaterThan(1_000);
    expect(heapSize({ a: 'x'.repeat(1_000) })).toBeGreaterThan(heapSize('x'.repeat(1_000)));
    expect(heapSize(new Uint8Array(4_096))).toBeGreaterThan(4_096);
    expect(heapSize(7)).toBe(0);
    expect(heapSize(null)).toBe(0);
  });

  it('extrapolates wide arrays instead of walking them', () => {
    const items = Array.from({ length: 100_000 }, (_, i) => ({ sku: `sku-${i % 10}`, qty: i % 7 }));
    let reads = 0;
    const counted = new Proxy(items, {
      get: (target, key, receiver) => {
        if (typeof key === 'string' && /^\d+$/.test(key)) reads++;
        return Reflect.get(target, key, receiver) as unknown;
      },
    });
    const bytes = heapSize(counted);
    expect(reads).toBeLessThanOrEqual(32);
    expect(bytes).toBeGreaterThan(100_000 * heapSize(items[0]));
  });

  it('stops at a bounded depth', () => {
    type Node = { next?: Node; pad: string };
    let deep: Node = { pad: 'x' };
    for (let i = 0; i < 10_000; i++) deep = { next: deep, pad: 'x' };
    expect(heapSize(deep)).toBeLessThan(10_000);
  });
});

describe('SizeEstimate', () => {
  it('measures the first event of a type and stands by the average for the next ones', () => {
    const sizes = new SizeEstimate();
    const small = sizes.ofEvent(envelope({ id: '1' }), {});
    expect(small).toBeGreaterThan(MESSAGE_OVERHEAD);
    // A much larger event between two samples is counted at the type's average.
    expect(sizes.ofEvent(envelope({ id: '1', blob: 'x'.repeat(10_000) }), {})).toBe(small);
  });

  it('follows a type whose events grow, at the next samples', () => {
    const sizes = new SizeEstimate();
    const big = envelope({ blob: 'x'.repeat(10_000) });
    const first = sizes.ofEvent(envelope({ id: '1' }), {});
    let last = first;
    for (let i = 0; i < 64 * 30; i++) last = sizes.ofEvent(big, {});
    expect(last).toBeGreaterThan(10_000);
  });

  it('measures raw bodies exactly', () => {
    expect(rawSize('x'.repeat(5_000), {})).toBeGreaterThan(5_000 + MESSAGE_OVERHEAD);
    expect(rawSize(new Uint8Array(5_000), {})).toBeGreaterThan(5_000 + MESSAGE_OVERHEAD);
  });
});
