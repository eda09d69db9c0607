import { DASHBOARD_CLIENT } from './client-bundle.generated.js';

const STYLE = `
:root { --ok: #1f9d55; --warn: #d69e2e; --bad: #e53e3e; --unknown: #718096; --bg: #f7f8fa; --card: #fff;
  --line: #e2e8f0; --text: #1a202c; --dim: #718096; font-family: system-ui, sans-serif; font-size: 14px; }
body { margin: 0; background: var(--bg); color: var(--text); }
header { display: flex; gap: 16px; align-items: center; padding: 12px 20px; background: #1a202c; color: #fff; }
header h1 { font-size: 18px; margin: 0; }
header .spacer { flex: 1; }
header select { font-size: 14px; }
main { padding: 16px 20px; display: grid; gap: 18px; }
section h2 { font-size: 15px; margin: 0 0 8px; }
.pill { padding: 2px 10px; border-radius: 999px; font-weight: 600; font-size: 12px; color: #fff; background: var(--unknown); }
.pill.HEALTHY { background: var(--ok); } .pill.DEGRADED { background: var(--warn); }
.pill.UNHEALTHY { background: var(--bad); }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(220px, 1fr)); gap: 10px; }
.card { background: var(--card); border: 1px solid var(--line); border-left: 5px solid var(--unknown); border-radius: 6px; padding: 10px; }
.card.HEALTHY { border-left-color: var(--ok); } .card.DEGRADED { border-left-color: var(--warn); }
.card.UNHEALTHY { border-left-color: var(--bad); }
.card h3 { margin: 0 0 6px; font-size: 14px; display: flex; justify-content: space-between; gap: 6px; }
.card .meta { color: var(--dim); font-size: 12px; }
table { border-collapse: collapse; width: 100%; background: var(--card); border: 1px solid var(--line); }
th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid var(--line); font-size: 13px; }
th { background: #edf2f7; font-weight: 600; }
tr.actor { cursor: pointer; } tr.actor:hover { background: #ebf8ff; }
.dot { display: inline-block; width: 12px; height: 12px; border-radius: 50%; vertical-align: middle; margin-right: 6px; }
.dot.CLOSED { background: var(--ok); } .dot.HALF_OPEN { background: var(--warn); } .dot.OPEN { background: var(--bad); }
button { font-size: 12px; padding: 2px 8px; cursor: pointer; }
progress { width: 180px; height: 12px; vertical-align: middle; accent-color: var(--ok); }
code { font-size: 12px; }
.empty { color: var(--dim); font-style: italic; }
#notice { padding: 8px 12px; border-radius: 4px; background: #fed7d7; color: #742a2a; }
#notice.info { background: #c6f6d5; color: #22543d; }
#conn { font-size: 12px; color: #cbd5e0; }
#chart-panel { background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: 10px; overflow-x: auto; }
#chart-panel header { background: none; color: var(--text); padding: 0 0 8px; }
svg .node rect { fill: #fff; stroke: #a0aec0; stroke-width: 1.5; }
svg .node.compound rect { fill: #f7fafc; stroke-dasharray: 4 3; }
svg .node.active rect { fill: #bee3f8; stroke: #2b6cb0; stroke-width: 3; }
svg .node text { font-size: 12px; fill: #1a202c; }
svg .edge path { fill: none; stroke: #718096; stroke-width: 1.2; }
svg .edge text { font-size: 10px; fill: #4a5568; }
svg .edge .label-box { fill: #fff; fill-opacity: 0.85; stroke: none; }
#chart svg { max-width: 100%; height: auto; }
dialog { border: 1px solid var(--line); border-radius: 6px; padding: 16px; }
dialog input { width: 260px; margin: 8px 0; }
pre { margin: 4px 0; font-size: 12px; max-width: 520px; overflow-x: auto; background: #f7fafc; padding: 6px; }
summary { cursor: pointer; }
[hidden] { display: none !important; }
`;

const BODY = `
<header>
  <h1>bulwark · <span id="service">…</span></h1>
  <span id="overall" class="pill UNKNOWN">UNKNOWN</span>
  <span id="conn">connecting…</span>
  <span class="spacer"></span>
  <label>Show <select id="filter">
    <option value="all">all</option>
    <option value="attention">needing attention</option>
    <option value="HEALTHY">healthy</option>
    <option value="DEGRADED">degraded</option>
    <option value="UNHEALTHY">unhealthy</option>
  </select></label>
</header>
<main>
  <div id="notice" hidden></div>
  <section><h2>Services and checks</h2><div id="cards" class="cards"></div></section>
  <section><h2>Circuit breakers</h2><table><thead><tr><th>Breaker</th><th>State</th><th>Failure rate</th>
    <th>Requests</th><th>Rejected</th><th>Shared</th><th>Actions</th></tr></thead><tbody id="breakers"></tbody></table></section>
  <section id="chart-panel" hidden><header><strong id="chart-title"></strong><span class="spacer"></span>
    <button id="chart-close" type="button">close</button></header><div id="chart"></div></section>
  <section><h2>Subscribers</h2><table><thead><tr><th>Subscriber</th><th>Status</th><th>Backlog</th><th>In flight</th>
    <th>Handled</th><th>Retried</th><th>Dead letters</th></tr></thead><tbody id="subscribers"></tbody></table></section>
  <section><h2>Queues</h2><table><thead><tr><th>Queue</th><th>State</th><th>Backlog</th><th>In flight</th><th>Completed</th>
    <th>Dead letters</th><th>Actions</th></tr></thead><tbody id="queues"></tbody></table></section>
  <section><h2>Job schedulers</h2><table><thead><tr><th>Queue</th><th>Scheduler</th><th>Schedule</th><th>Time zone</th>
    <th>Next slot</th><th>Last slot</th></tr></thead><tbody id="schedulers"></tbody></table></section>
  <section><h2>Active jobs' progress</h2><table><thead><tr><th>Queue</th><th>Job</th><th>Name</th>
    <th>Progress</th></tr></thead><tbody id="job-progress"></tbody></table></section>
  <section><h2>Supervised actors</h2><table><thead><tr><th>Actor</th><th>Kind</th><th>Status</th><th>State</th>
    <th>Restarts</th><th>Last error</th></tr></thead><tbody id="actors"></tbody></table></section>
  <section><h2>Dead letters (<span id="dl-count">0</span>)
    <button type="button" data-action="redrive-all">redrive all</button></h2><table><thead><tr><th>Event</th><th>Group</th><th>Reason</th>
    <th>Error</th><th>Attempts</th><th>Failed at</th><th>Actions</th></tr></thead><tbody id="dead-letters"></tbody></table></section>
</main>
<dialog id="token-dialog"><form method="dialog">
  <div id="token-prompt">This action needs the admin token.</div>
  <input id="token-input" type="password" autocomplete="off" placeholder="admin token">
  <div><button value="ok" id="token-ok">OK</button> <button value="cancel" id="token-cancel">Cancel</button></div>
</form></dialog>
`;

/**
 * The dashboard page: one self-contained document (inline style and script, both under the
 * response's CSP nonce), with nothing secret in it.
 * @param nonce - this response's CSP nonce
 * @param base - where the dashboard is served, e.g. `/dashboard`
 */
export function dashboardPage(nonce: string, base: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>bulwark dashboard</title><link rel="icon" href="data:,">
<style nonce="${nonce}">${STYLE}</style></head>
<body>${BODY}
<script nonce="${nonce}">window.BULWARK_BASE = ${JSON.stringify(base).replace(/</g, '\\u003c')};${DASHBOARD_CLIENT}</script>
</body></html>`;
}
