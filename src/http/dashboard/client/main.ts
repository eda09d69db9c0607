/**
 * The dashboard page's behaviour: follows the server-sent snapshots, renders them, filters by
 * status, draws the selected actor's statechart, lists dead letters, and sends admin actions
 * (dead letters, breakers, pausing and resuming queues).
 */
import { postAction } from './actions.js';
import { getJson } from './data.js';
import { byId } from './dom.js';
import { follow } from './feed.js';
import { renderChart, renderSnapshot } from './render.js';
import { state, type Charts } from './state.js';

function onClick(ev: MouseEvent): void {
  const t = ev.target instanceof Element ? ev.target.closest('button, tr.actor') : null;
  if (!t) return;
  const action = t.getAttribute('data-action');
  if (action === 'redrive' || action === 'purge') {
    void postAction(`/api/dead-letters/${action}`, { ids: [t.getAttribute('data-id')] });
  } else if (action === 'redrive-all') {
    void postAction('/api/dead-letters/redrive', { all: true });
  } else if (action === 'queue') {
    void postAction('/api/queues/action', {
      name: t.getAttribute('data-name'),
      action: t.getAttribute('data-op'),
    });
  } else if (action === 'breaker') {
    void postAction('/api/breakers/action', {
      name: t.getAttribute('data-name'),
      action: t.getAttribute('data-op'),
    });
  } else if (t.id === 'chart-close') {
    state.chart = null;
    renderChart();
  } else if (t.classList.contains('actor')) {
    state.chart = t.getAttribute('data-actor');
    renderChart();
  }
}

let charts: Promise<void> | undefined;

/** Loads the statecharts once, after the first snapshot (by then any read token has been given). */
function loadCharts(): void {
  charts ??= getJson<Charts>('/api/charts').then(
    (c) => {
      state.charts = c;
      renderChart();
    },
    () => (charts = undefined),
  );
}

document.addEventListener('click', onClick);
byId('filter').addEventListener('change', () => {
  if (state.snap) renderSnapshot(state.snap);
});
void follow((data) => {
  renderSnapshot(JSON.parse(data));
  loadCharts();
});
