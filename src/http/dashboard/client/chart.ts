import type { Chart, ChartEdge, ChartNode } from '../statechart.js';
import { escapeHtml as esc } from './format.js';

/** An edge's path and where its label goes. */
interface EdgeShape {
  readonly d: string;
  readonly lx: number;
  readonly ly: number;
}

/** Box size, shared by every node of a chart. */
interface BoxSize {
  readonly w: number;
  readonly h: number;
}

const ARROW_DEFS =
  '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">' +
  '<path d="M 0 0 L 10 5 L 0 10 z" fill="#718096"/></marker></defs>';

/** Left to right: an S-curve between facing sides; labels of parallel edges alternate heights. */
function forwardEdge(a: ChartNode, b: ChartNode, i: number, { w, h }: BoxSize): EdgeShape {
  const x1 = a.x + w;
  const y1 = a.y + h / 2;
  const x2 = b.x;
  const y2 = b.y + h / 2;
  const mx = (x1 + x2) / 2;
  return {
    d: `M${x1},${y1} C${mx},${y1} ${mx},${y2} ${x2},${y2}`,
    lx: mx,
    ly: y1 === y2 ? a.y - 6 : (y1 + y2) / 2 - 4 - (i % 2) * 10,
  };
}

/** Right to left: a loop under both boxes, at one of three depths so that loops do not overlap. */
function backwardEdge(a: ChartNode, b: ChartNode, i: number, { w, h }: BoxSize): EdgeShape {
  const x1 = a.x;
  const y1 = a.y + h;
  const x2 = b.x + w;
  const y2 = b.y + h;
  const dip = Math.max(y1, y2) + 26 + (i % 3) * 8;
  return { d: `M${x1},${y1} C${x1},${dip} ${x2},${dip} ${x2},${y2}`, lx: (x1 + x2) / 2, ly: dip - 2 };
}

/** Within a column: a straight line, left of centre going down and right of it going up. */
function verticalEdge(a: ChartNode, b: ChartNode, { w, h }: BoxSize): EdgeShape {
  const down = b.y > a.y;
  const x1 = a.x + w / 2 + (down ? -12 : 12);
  const y1 = down ? a.y + h : a.y;
  const x2 = b.x + w / 2 + (down ? -12 : 12);
  const y2 = down ? b.y : b.y + h;
  return { d: `M${x1},${y1} L${x2},${y2}`, lx: x1 + (down ? -6 : 6), ly: (y1 + y2) / 2 };
}

function edgeShape(a: ChartNode, b: ChartNode, i: number, size: BoxSize): EdgeShape {
  if (b.x > a.x) return forwardEdge(a, b, i, size);
  if (b.x < a.x) return backwardEdge(a, b, i, size);
  return verticalEdge(a, b, size);
}

function edgeMarkup(e: ChartEdge, a: ChartNode, b: ChartNode, i: number, size: BoxSize): string {
  const { d, lx, ly } = edgeShape(a, b, i, size);
  const anchor = b.x === a.x ? (b.y > a.y ? 'end' : 'start') : 'middle';
  return (
    `<g class="edge" data-from="${esc(e.from)}" data-to="${esc(e.to)}"><path d="${d}` +
    `" marker-end="url(#arrow)"/><text x="${lx}" y="${ly}" text-anchor="${anchor}">${esc(e.label)}</text></g>`
  );
}

function nodeMarkup(n: ChartNode, on: boolean, { w, h }: BoxSize): string {
  return (
    `<g class="node${n.compound ? ' compound' : ''}${on ? ' active' : ''}" data-state="${esc(n.id)}` +
    `"><rect x="${n.x}" y="${n.y}" rx="8" width="${w}" height="${h}"/><text x="${n.x + w / 2}` +
    `" y="${n.y + h / 2 + 4}" text-anchor="middle">${esc(n.label)}</text></g>`
  );
}

/**
 * A laid-out statechart as SVG markup, its `active` states highlighted.
 * @example
 * byId('chart').innerHTML = drawChart(charts.circuitBreaker, ['circuitBreaker.OPEN']);
 */
export function drawChart(chart: Chart, active: readonly string[]): string {
  const size: BoxSize = { w: chart.nodeWidth, h: chart.nodeHeight };
  const at = new Map(chart.nodes.map((n) => [n.id, n]));
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${chart.width}" height="${chart.height}` +
      `" viewBox="0 0 ${chart.width} ${chart.height}" role="img" aria-label="${esc(chart.machine)} statechart">`,
    ARROW_DEFS,
  ];
  chart.edges.forEach((e, i) => {
    const a = at.get(e.from);
    const b = at.get(e.to);
    if (a && b) parts.push(edgeMarkup(e, a, b, i, size));
  });
  for (const n of chart.nodes) parts.push(nodeMarkup(n, active.includes(n.id), size));
  parts.push('</svg>');
  return parts.join('');
}
