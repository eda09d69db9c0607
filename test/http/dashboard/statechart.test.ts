import { describe, expect, it } from 'vitest';
import { chartOf } from '../../../src/http/dashboard/statechart.js';
import { breakerActive } from '../../../src/http/dashboard/snapshot.js';
import { circuitBreakerMachine } from '../../../src/machines/circuit-breaker.machine.js';
import { subscriberMachine } from '../../../src/machines/subscriber.machine.js';

describe('statecharts from machine definitions', () => {
  it('draws every breaker state and its transitions, manual ones from "(any state)"', () => {
    const chart = chartOf(circuitBreakerMachine);
    expect(chart.nodes.map((n) => n.label).sort()).toEqual(
      ['(any state)', 'CLOSED', 'FORCED_CLOSED', 'FORCED_OPEN', 'HALF_OPEN', 'OPEN'].sort(),
    );
    const edge = (from: string, to: string) =>
      chart.edges.find((e) => e.from === `circuitBreaker.${from}` && e.to === `circuitBreaker.${to}`)?.label;
    expect(edge('CLOSED', 'OPEN')).toBe('window.tripped [thresholdReached] / peer.opened');
    expect(edge('OPEN', 'HALF_OPEN')).toBe('after resetTimeout');
    expect(edge('*', 'FORCED_OPEN')).toBe('manual.open');
    const x = (label: string) => chart.nodes.find((n) => n.label === label)!.x;
    expect(x('(any state)')).toBeLessThan(x('CLOSED'));
    expect(x('CLOSED')).toBeLessThan(x('OPEN'));
    expect(x('OPEN')).toBeLessThan(x('HALF_OPEN'));
    for (const n of chart.nodes) {
      expect(n.x + chart.nodeWidth).toBeLessThanOrEqual(chart.width);
      expect(n.y + chart.nodeHeight).toBeLessThanOrEqual(chart.height);
    }
  });

  it('draws nested states with their paths, and entry into a compound state', () => {
    const chart = chartOf(subscriberMachine);
    const ids = chart.nodes.map((n) => n.id);
    expect(ids).toContain('subscriber.running.consuming.handling');
    expect(chart.nodes.find((n) => n.id === 'subscriber.running')?.compound).toBe(true);
    expect(chart.edges).toContainEqual({
      from: 'subscriber.running',
      to: 'subscriber.running.starting',
      label: 'initial',
    });
    expect(ids).not.toContain('subscriber.*');
  });

  it('highlights the forced states of a breaker held by hand', () => {
    const base = {
      name: 'b',
      failureRate: 0,
      totalRequests: 0,
      successCount: 0,
      failureCount: 0,
      rejectedCount: 0,
      timeoutCount: 0,
    };
    expect(breakerActive({ ...base, state: 'OPEN', forced: true })).toEqual(['circuitBreaker.FORCED_OPEN']);
    expect(breakerActive({ ...base, state: 'HALF_OPEN' })).toEqual(['circuitBreaker.HALF_OPEN']);
  });
});
