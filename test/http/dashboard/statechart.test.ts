import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { CHARTS_FILE, chartsModule, layoutDashboardCharts } from '../../../scripts/layout-charts.js';
import { DASHBOARD_CHARTS } from '../../../src/http/dashboard/charts.generated.js';
import { breakerActive } from '../../../src/http/dashboard/snapshot.js';
import { graphOf, type Box, type Chart, type Point } from '../../../src/http/dashboard/statechart.js';
import { circuitBreakerMachine } from '../../../src/machines/circuit-breaker.machine.js';
import { subscriberMachine } from '../../../src/machines/subscriber.machine.js';

/** Whether two boxes share more than an edge (a 0.5 px touch is not an overlap). */
function overlap(a: Box, b: Box): boolean {
  const e = 0.5;
  return (
    a.x + e < b.x + b.width && b.x + e < a.x + a.width && a.y + e < b.y + b.height && b.y + e < a.y + a.height
  );
}

/** Whether a horizontal or vertical segment (what orthogonal routing draws) crosses a box's inside. */
function crosses(p: Point, q: Point, b: Box): boolean {
  const box = {
    x: Math.min(p.x, q.x),
    y: Math.min(p.y, q.y),
    width: Math.abs(p.x - q.x),
    height: Math.abs(p.y - q.y),
  };
  return overlap({ ...box, width: Math.max(box.width, 1), height: Math.max(box.height, 1) }, b);
}

/** Every pair of things in a chart that overlap: label/label, label/state, label/another edge. */
function collisions(chart: Chart): string[] {
  const out: string[] = [];
  chart.edges.forEach((e, i) => {
    chart.edges.forEach((f, j) => {
      if (j > i && overlap(e.labelBox, f.labelBox)) out.push(`labels "${e.label}" / "${f.label}"`);
      if (j === i) return;
      for (let k = 1; k < f.points.length; k++)
        if (crosses(f.points[k - 1]!, f.points[k]!, e.labelBox))
          out.push(`label "${e.label}" / edge "${f.label}"`);
    });
    for (const n of chart.nodes)
      if (overlap(e.labelBox, n)) out.push(`label "${e.label}" / state ${n.label}`);
  });
  return out;
}

describe('statecharts from machine definitions', () => {
  it('draws every breaker state and its transitions, manual ones from "(any state)"', () => {
    const graph = graphOf(circuitBreakerMachine);
    expect(graph.nodes.map((n) => n.label).sort()).toEqual(
      ['(any state)', 'CLOSED', 'FORCED_CLOSED', 'FORCED_OPEN', 'HALF_OPEN', 'OPEN'].sort(),
    );
    const edge = (from: string, to: string) =>
      graph.edges.find((e) => e.from === `circuitBreaker.${from}` && e.to === `circuitBreaker.${to}`)?.label;
    expect(edge('CLOSED', 'OPEN')).toBe('window.tripped [thresholdReached] / peer.opened / health.down');
    expect(edge('OPEN', 'HALF_OPEN')).toBe('health.up [healthDown] / after resetTimeout [healthUp]');
    expect(edge('*', 'FORCED_OPEN')).toBe('manual.open');
  });

  it('draws nested states with their paths, and entry into a compound state', () => {
    const graph = graphOf(subscriberMachine);
    const ids = graph.nodes.map((n) => n.id);
    expect(ids).toContain('subscriber.running.consuming.handling');
    expect(graph.nodes.find((n) => n.id === 'subscriber.running')?.compound).toBe(true);
    expect(graph.edges).toContainEqual({
      from: 'subscriber.running',
      to: 'subscriber.running.starting',
      label: 'initial',
    });
    expect(ids).not.toContain('subscriber.*');
  });

  it('is laid out by ELK as committed: run `npm run build:dashboard` after changing a machine', async () => {
    const committed = await readFile(CHARTS_FILE, 'utf8');
    expect(committed, 'the laid-out charts are stale: run `npm run build:dashboard`').toBe(
      await chartsModule(await layoutDashboardCharts()),
    );
  });

  it.each(Object.entries(DASHBOARD_CHARTS))(
    '%s: every state and transition placed, no label over a label, a state or another edge',
    (_name, chart) => {
      const graph = graphOf(chart.machine === 'circuitBreaker' ? circuitBreakerMachine : subscriberMachine);
      expect(chart.nodes.map((n) => n.id)).toEqual(graph.nodes.map((n) => n.id));
      expect(chart.edges.map((e) => e.label)).toEqual(graph.edges.map((e) => e.label));
      for (const n of [...chart.nodes, ...chart.edges.map((e) => e.labelBox)]) {
        expect(n.x).toBeGreaterThanOrEqual(0);
        expect(n.x + n.width).toBeLessThanOrEqual(chart.width);
        expect(n.y + n.height).toBeLessThanOrEqual(chart.height);
      }
      expect(collisions(chart)).toEqual([]);
    },
  );

  it('finds an overlap when there is one', () => {
    const [a, b] = DASHBOARD_CHARTS.circuitBreaker.edges;
    const moved = {
      ...DASHBOARD_CHARTS.circuitBreaker,
      edges: [a!, { ...b!, labelBox: { ...a!.labelBox, x: a!.labelBox.x + 3 } }],
    };
    expect(collisions(moved)).toContain(`labels "${a!.label}" / "${b!.label}"`);
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
