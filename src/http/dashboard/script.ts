/**
 * The page's behaviour (browser JavaScript, served inline): follows the server-sent snapshots,
 * renders them, filters by status, draws the selected actor's statechart, lists dead letters, and
 * sends admin actions with the token the user types (kept in memory only, never stored).
 */
export const DASHBOARD_SCRIPT = String.raw`
(function () {
  var base = window.BULWARK_BASE, state = { snap: null, charts: null, chart: null, token: null, dlCount: -1 };
  var $ = function (id) { return document.getElementById(id); };
  var HEALTH = { CLOSED: 'HEALTHY', HALF_OPEN: 'DEGRADED', OPEN: 'UNHEALTHY',
    consuming: 'HEALTHY', handling: 'HEALTHY', starting: 'DEGRADED', draining: 'DEGRADED', backingOff: 'DEGRADED',
    failed: 'UNHEALTHY', stopped: 'UNHEALTHY' };
  function ms(v) {
    if (v == null) return '—';
    if (v < 1000) return Math.round(v) + ' ms';
    var s = Math.floor(v / 1000);
    if (s < 120) return s + ' s';
    var m = Math.floor(s / 60);
    return m < 120 ? m + ' min' : Math.floor(m / 60) + ' h ' + (m % 60) + ' min';
  }
  function pct(v) { return (Math.round(v * 1000) / 10) + ' %'; }
  function shown(status) {
    var f = $('filter').value;
    return f === 'all' || (f === 'attention' ? status !== 'HEALTHY' : status === f);
  }
  function hideAttr(status) { return shown(status) ? '' : ' hidden'; }
  function notice(text, ok) {
    var n = $('notice');
    n.textContent = text; n.className = ok ? 'info' : ''; n.hidden = !text;
  }
  function rows(id, items, render, empty) {
    $(id).innerHTML = items.length ? items.map(render).join('') : '<tr><td colspan="8" class="empty">' + empty + '</td></tr>';
  }
  function renderCards(s) {
    $('cards').innerHTML = s.services.length ? s.services.map(function (c) {
      return '<div class="card ' + c.status + '" data-kind="' + c.kind + '" data-id="' + esc(c.id) + '" data-status="' + c.status + '"' +
        hideAttr(c.status) + '><h3><span>' + esc(c.name) + '</span><span class="pill ' + c.status + '">' + c.status + '</span></h3>' +
        '<div class="meta">' + c.kind + (c.breaker ? ' · breaker ' + esc(c.breaker) : '') + '</div>' +
        '<div class="meta">response time ' + ms(c.responseTime) + ' · up ' + ms(c.uptime) + '</div>' +
        (c.message ? '<div class="meta">' + esc(c.message) + '</div>' : '') + '</div>';
    }).join('') : '<div class="empty">no services or checks registered</div>';
  }
  function renderBreakers(s) {
    rows('breakers', s.breakers, function (b) {
      var h = HEALTH[b.state];
      return '<tr class="actor" data-actor="' + esc(b.actor) + '" data-breaker="' + esc(b.name) + '" data-state="' + b.state + '"' +
        hideAttr(h) + '><td><span class="dot ' + b.state + '" data-indicator="' + b.state + '"></span>' + esc(b.name) + '</td><td>' +
        b.state + (b.forced ? ' (forced)' : '') + '</td><td>' + pct(b.failureRate) + '</td><td>' + b.totalRequests + '</td><td>' +
        b.rejectedCount + '</td><td>' + (b.shared ? esc(b.shared.mode) : 'no') + '</td><td>' +
        ['open', 'close', 'reset'].map(function (a) {
          return '<button type="button" data-action="breaker" data-op="' + a + '" data-name="' + esc(b.name) + '">' + a + '</button>';
        }).join(' ') + '</td></tr>';
    }, 'no circuit breakers');
  }
  function renderSubscribers(s) {
    rows('subscribers', s.subscribers, function (x) {
      return '<tr class="actor" data-actor="' + esc(x.actor) + '" data-status="' + x.status + '"' + hideAttr(HEALTH[x.status] || 'UNKNOWN') +
        '><td>' + esc(x.group) + ' / ' + esc(x.type) + '</td><td>' + x.status + '</td><td>' + (x.backlog == null ? '—' : x.backlog) + '</td><td>' + x.inFlight + '</td><td>' +
        x.handled + '</td><td>' + x.retried + '</td><td>' + x.deadLetters + '</td></tr>';
    }, 'no subscribers');
    rows('queues', s.queues, function (q) {
      return '<tr><td>' + esc(q.name) + '</td><td>' + q.backlog + '</td><td>' + q.inFlight + '</td><td>' +
        (q.counts.completed || 0) + '</td><td>' + q.deadLetters + '</td></tr>';
    }, 'no queues');
    rows('actors', s.actors, function (a) {
      return '<tr data-id="' + esc(a.id) + '" data-status="' + a.status + '"' + hideAttr(a.health) + '><td>' + esc(a.id) +
        '</td><td>' + esc(a.kind) + '</td><td><span class="pill ' + a.health + '">' + a.status + '</span></td><td>' +
        esc(a.state || '—') + '</td><td>' + a.restarts + '</td><td>' + esc(a.lastError ? a.lastError.message : '') + '</td></tr>';
    }, 'no machines spawned with rt.spawn');
  }
  function renderChart() {
    var panel = $('chart-panel'), s = state.snap, sel = state.chart;
    if (!sel || !s || !state.charts) { panel.hidden = true; return; }
    var actor = s.breakers.concat(s.subscribers).filter(function (a) { return a.actor === sel; })[0];
    if (!actor) { panel.hidden = true; return; }
    var chart = state.charts[sel.indexOf('breaker:') === 0 ? 'circuitBreaker' : 'subscriber'];
    $('chart-title').textContent = sel + ' — ' + (actor.state || actor.status);
    $('chart').innerHTML = drawChart(chart, actor.active);
    panel.hidden = false;
  }
  function render(s) {
    state.snap = s;
    $('service').textContent = s.service;
    $('overall').textContent = s.status; $('overall').className = 'pill ' + s.status;
    $('conn').textContent = 'live · ' + new Date(s.timestamp).toLocaleTimeString();
    renderCards(s); renderBreakers(s); renderSubscribers(s); renderChart();
    $('dl-count').textContent = s.deadLetters;
    if (s.deadLetters !== state.dlCount) { state.dlCount = s.deadLetters; loadDeadLetters(); }
  }
  function loadDeadLetters() {
    fetch(base + '/api/dead-letters?limit=200').then(function (r) { return r.json(); }).then(function (list) {
      rows('dead-letters', list, function (d) {
        return '<tr data-dead-letter="' + esc(d.id) + '"><td><details><summary>' + esc(d.event.type) + '</summary><pre>' +
          esc(JSON.stringify(d.event.data, null, 2)) + '</pre></details><div class="meta">' + esc(d.event.id) + '</div></td><td>' + esc(d.group) + '</td><td>' + d.reason + '</td><td>' + esc(d.error.name + ': ' + d.error.message) +
          '</td><td>' + d.attempts + '</td><td>' + esc(d.failedAt) + '</td><td>' +
          '<button type="button" data-action="redrive" data-id="' + esc(d.id) + '">redrive</button> ' +
          '<button type="button" data-action="purge" data-id="' + esc(d.id) + '">purge</button></td></tr>';
      }, 'no dead letters');
    }).catch(function () { notice('could not load dead letters'); });
  }
  function askToken() {
    return new Promise(function (resolve) {
      var dialog = $('token-dialog');
      $('token-input').value = '';
      dialog.onclose = function () { resolve(dialog.returnValue === 'ok' ? $('token-input').value : null); };
      dialog.showModal();
    });
  }
  function post(path, body, retried) {
    if (state.snap && !state.snap.adminEnabled) return notice('Read-only: no admin token is configured on the server.');
    var go = state.token ? Promise.resolve(state.token) : askToken();
    return go.then(function (token) {
      if (!token) return notice('Cancelled: the action needs the admin token.');
      return fetch(base + path, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer ' + token },
        body: JSON.stringify(body) }).then(function (r) {
        return r.json().then(function (out) {
          if (r.status === 401) {
            state.token = null;
            return notice('Refused: unauthorized (wrong admin token).');
          }
          if (!r.ok) return notice('Refused: ' + (out.error || r.status));
          state.token = token;
          notice('Done: ' + JSON.stringify(out), true);
          state.dlCount = -1;
        });
      });
    }).catch(function (err) { notice('Failed: ' + err.message); });
  }
  document.addEventListener('click', function (ev) {
    var t = ev.target.closest('button, tr.actor');
    if (!t) return;
    var a = t.getAttribute('data-action');
    if (a === 'redrive' || a === 'purge') return post('/api/dead-letters/' + a, { ids: [t.getAttribute('data-id')] });
    if (a === 'redrive-all') return post('/api/dead-letters/redrive', { all: true });
    if (a === 'breaker') return post('/api/breakers/action', { name: t.getAttribute('data-name'), action: t.getAttribute('data-op') });
    if (t.id === 'chart-close') { state.chart = null; return renderChart(); }
    if (t.classList.contains('actor')) { state.chart = t.getAttribute('data-actor'); renderChart(); }
  });
  $('filter').addEventListener('change', function () { if (state.snap) render(state.snap); });
  fetch(base + '/api/charts').then(function (r) { return r.json(); }).then(function (c) { state.charts = c; renderChart(); });
  var source = new EventSource(base + '/events');
  source.addEventListener('snapshot', function (ev) { render(JSON.parse(ev.data)); });
  source.onerror = function () { $('conn').textContent = 'reconnecting…'; };
})();
`;
