/**
 * The dashboard page's behaviour: follows the server-sent snapshots, renders them, filters by
 * status, draws the selected actor's statechart, lists dead letters, and sends admin actions.
 */
import { postAction } from './actions.js';
import { base } from './base.js';
import { byId } from './dom.js';
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

async function loadCharts(): Promise<void> {
  const res = await fetch(`${base}/api/charts`);
  const charts: Charts = await res.json();
  state.charts = charts;
  renderChart();
}

document.addEventListener('click', onClick);
byId('filter').addEventListener('change', () => {
  if (state.snap) renderSnapshot(state.snap);
});
void loadCharts();
const source = new EventSource(`${base}/events`);
source.addEventListener('snapshot', (ev) => renderSnapshot(JSON.parse(ev.data)));
source.onerror = () => {
  byId('conn').textContent = 'reconnecting…';
};
