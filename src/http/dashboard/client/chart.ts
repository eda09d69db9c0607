import type { Chart, ChartNode, ChartRoute } from '../statechart.js';
import { escapeHtml as esc } from './format.js';

const ARROW_DEFS =
  '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">' +
  '<path d="M 0 0 L 10 5 L 0 10 z" fill="#718096"/></marker></defs>';

/**
 * An edge as the layout routed it: a polyline from box to box, and its label centred in the box
 * the layout kept free for it (a backing rectangle keeps it legible where the edge runs under it).
 */
function edgeMarkup(e: ChartRoute): string {
  const d = e.points.map((p, i) => `${i === 0 ? 'M' : 'L'}${p.x},${p.y}`).join(' ');
  const b = e.labelBox;
  return (
    `<g class="edge" data-from="${esc(e.from)}" data-to="${esc(e.to)}"><path d="${d}" marker-end="url(#arrow)"/>` +
    `<rect class="label-box" x="${b.x}" y="${b.y}" width="${b.width}" height="${b.height}" rx="3"/>` +
    `<text class="label" x="${b.x + b.width / 2}" y="${b.y + b.height / 2}" text-anchor="middle" ` +
    `dominant-baseline="central">${esc(e.label)}</text></g>`
  );
}

function nodeMarkup(n: ChartNode, on: boolean): string {
  return (
    `<g class="node${n.compound ? ' compound' : ''}${on ? ' active' : ''}" data-state="${esc(n.id)}` +
    `"><rect x="${n.x}" y="${n.y}" rx="8" width="${n.width}" height="${n.height}"/><text x="${n.x + n.width / 2}` +
    `" y="${n.y + n.height / 2}" text-anchor="middle" dominant-baseline="central">${esc(n.label)}</text></g>`
  );
}

/**
 * A laid-out statechart as SVG markup, its `active` states highlighted.
 * @example
 * byId('chart').innerHTML = drawChart(charts.circuitBreaker, ['circuitBreaker.OPEN']);
 */
export function drawChart(chart: Chart, active: readonly string[]): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${chart.width}" height="${chart.height}` +
      `" viewBox="0 0 ${chart.width} ${chart.height}" role="img" aria-label="${esc(chart.machine)} statechart">`,
    ARROW_DEFS,
    ...chart.edges.map(edgeMarkup),
    ...chart.nodes.map((n) => nodeMarkup(n, active.includes(n.id))),
    '</svg>',
  ].join('');
}
