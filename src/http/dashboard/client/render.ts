import type { DashboardSnapshot } from '../snapshot.js';
import { drawChart } from './chart.js';
import { loadDeadLetters } from './dead-letters.js';
import { byId, fillRows } from './dom.js';
import { renderEndpoints } from './endpoints.js';
import { renderQueues } from './queues.js';
import { actorRow, breakerRow, serviceCard, subscriberRow } from './rows.js';
import { state } from './state.js';

function renderCards(s: DashboardSnapshot): void {
  byId('cards').innerHTML = s.services.length
    ? s.services.map(serviceCard).join('')
    : '<div class="empty">no services or checks registered</div>';
}

function renderTables(s: DashboardSnapshot): void {
  fillRows('breakers', s.breakers, breakerRow, 'no circuit breakers');
  fillRows('subscribers', s.subscribers, subscriberRow, 'no subscribers');
  renderQueues(s);
  fillRows('actors', s.actors, actorRow, 'no machines spawned with rt.spawn');
  renderEndpoints(s);
}

/** Draws the selected actor's statechart, or hides the panel when there is nothing to draw. */
export function renderChart(): void {
  const panel = byId('chart-panel');
  const { snap, charts, chart: selected } = state;
  const actor = snap && [...snap.breakers, ...snap.subscribers].find((a) => a.actor === selected);
  if (!selected || !charts || !actor) {
    panel.hidden = true;
    return;
  }
  const chart = selected.startsWith('breaker:') ? charts.circuitBreaker : charts.subscriber;
  byId('chart-title').textContent = `${selected} — ${'state' in actor ? actor.state : actor.status}`;
  byId('chart').innerHTML = drawChart(chart, actor.active);
  panel.hidden = false;
}

/** Shows a snapshot, and reloads the dead letters when their count changed. */
export function renderSnapshot(s: DashboardSnapshot): void {
  state.snap = s;
  byId('service').textContent = s.service;
  const overall = byId('overall');
  overall.textContent = s.status;
  overall.className = `pill ${s.status}`;
  byId('conn').textContent = `live · ${new Date(s.timestamp).toLocaleTimeString()}`;
  renderCards(s);
  renderTables(s);
  renderChart();
  if (s.deadLetters !== state.dlCount) {
    state.dlCount = s.deadLetters;
    void loadDeadLetters(s.deadLetters);
  }
}
