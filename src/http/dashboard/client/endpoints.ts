/**
 * The endpoints panel: each request/reply endpoint this runtime serves, with its request and error
 * rates and its latency over the interval between two snapshots (the snapshot carries cumulative
 * counters, as the micro protocol keeps them), what is in flight, and its last error.
 */
import type { EndpointRow } from '../endpoint-rows.js';
import type { DashboardSnapshot } from '../snapshot.js';
import { fillRows } from './dom.js';
import { escapeHtml as esc } from './format.js';

const PANEL = 'endpoints-panel';
const HEAD =
  '<h2>Endpoints</h2><table><thead><tr><th>Endpoint</th><th>Status</th><th>Requests/s</th><th>Errors/s</th>' +
  '<th>Latency</th><th>In flight</th><th>Requests</th><th>Errors</th><th>Last error</th></tr></thead>' +
  '<tbody id="endpoints"></tbody></table>';

/** The counters of the previous snapshot, by actor id, and when it was taken. */
let previous: { readonly at: number; readonly rows: ReadonlyMap<string, EndpointRow> } | undefined;

/** The panel, made once, after the subscribers' section. */
function ensurePanel(): void {
  if (document.getElementById(PANEL)) return;
  const panel = document.createElement('section');
  panel.id = PANEL;
  panel.innerHTML = HEAD;
  const after = document.getElementById('subscribers')?.closest('section');
  if (after) after.after(panel);
  else document.body.append(panel);
}

const perSecond = (n: number): string => (n >= 10 ? String(Math.round(n)) : n.toFixed(1));
const millis = (ns: number): string => `${(ns / 1e6).toFixed(2)} ms`;

/** One row: rates and latency of the last interval when there is one, else the totals' average. */
function endpointRow(r: EndpointRow, before: EndpointRow | undefined, seconds: number): string {
  const requests = before && seconds > 0 ? r.requests - before.requests : undefined;
  const errors = before && seconds > 0 ? r.errors - before.errors : undefined;
  const latency =
    requests !== undefined && requests > 0
      ? millis((r.processingNs - before!.processingNs) / requests)
      : r.requests > 0
        ? millis(r.processingNs / r.requests)
        : '—';
  const rate = (n: number | undefined): string => (n === undefined ? '—' : perSecond(n / seconds));
  const state = r.status === 'serving' ? 'CLOSED' : r.status === 'failed' ? 'OPEN' : 'HALF_OPEN';
  return (
    `<tr data-endpoint="${esc(r.name)}"><td><span class="dot ${state}"></span>${esc(r.name)}</td>` +
    `<td>${esc(r.status)}</td><td>${rate(requests)}</td><td>${rate(errors)}</td><td>${latency}</td>` +
    `<td>${r.inFlight}${r.waiting ? ` (+${r.waiting} waiting)` : ''}</td><td>${r.requests}</td>` +
    `<td>${r.errors}${r.timeouts ? ` (${r.timeouts} timed out)` : ''}</td><td>${esc(r.lastError)}</td></tr>`
  );
}

/** Shows the endpoints of a snapshot; the panel stays hidden while the runtime serves none. */
export function renderEndpoints(s: DashboardSnapshot): void {
  const rows = s.endpoints ?? [];
  if (rows.length === 0 && !document.getElementById(PANEL)) return;
  ensurePanel();
  const at = Date.parse(s.timestamp);
  const before = previous;
  const seconds = before ? (at - before.at) / 1_000 : 0;
  fillRows(
    'endpoints',
    rows,
    (r) => endpointRow(r, before?.rows.get(r.actor), seconds),
    'no endpoints served',
  );
  previous = { at, rows: new Map(rows.map((r) => [r.actor, r])) };
}
