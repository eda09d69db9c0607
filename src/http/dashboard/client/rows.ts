import type { ActorRow, BreakerRow, ServiceCard, SubscriberRow } from '../snapshot.js';
import { BREAKER_HEALTH, hiddenAttr, SUBSCRIBER_HEALTH } from './filter.js';
import { duration, escapeHtml as esc, percent } from './format.js';

const BREAKER_ACTIONS = ['open', 'close', 'reset'] as const;

/** A service's or check's card. */
export function serviceCard(c: ServiceCard): string {
  return (
    `<div class="card ${c.status}" data-kind="${c.kind}" data-id="${esc(c.id)}" data-status="${c.status}"` +
    `${hiddenAttr(c.status)}><h3><span>${esc(c.name)}</span><span class="pill ${c.status}">${c.status}</span></h3>` +
    `<div class="meta">${c.kind}${c.breaker ? ` · breaker ${esc(c.breaker)}` : ''}</div>` +
    `<div class="meta">response time ${duration(c.responseTime)} · up ${duration(c.uptime)}</div>` +
    `${c.message ? `<div class="meta">${esc(c.message)}</div>` : ''}</div>`
  );
}

/** A breaker's row: its state as a coloured dot, its counts, and its admin buttons. */
export function breakerRow(b: BreakerRow): string {
  const buttons = BREAKER_ACTIONS.map(
    (a) =>
      `<button type="button" data-action="breaker" data-op="${a}" data-name="${esc(b.name)}">${a}</button>`,
  ).join(' ');
  return (
    `<tr class="actor" data-actor="${esc(b.actor)}" data-breaker="${esc(b.name)}" data-state="${b.state}"` +
    `${hiddenAttr(BREAKER_HEALTH[b.state])}><td><span class="dot ${b.state}" data-indicator="${b.state}"></span>` +
    `${esc(b.name)}</td><td>${b.state}${b.forced ? ' (forced)' : ''}</td><td>${percent(b.failureRate)}</td>` +
    `<td>${b.totalRequests}</td><td>${b.rejectedCount}</td><td>${b.shared ? esc(b.shared.mode) : 'no'}</td>` +
    `<td>${buttons}</td></tr>`
  );
}

/** A subscriber's row; a click on it shows its statechart. */
export function subscriberRow(x: SubscriberRow): string {
  // Null as well as absent: both mean the transport cannot tell.
  const backlog = x.backlog == null ? '—' : x.backlog;
  return (
    `<tr class="actor" data-actor="${esc(x.actor)}" data-status="${x.status}"` +
    `${hiddenAttr(SUBSCRIBER_HEALTH[x.status] ?? 'UNKNOWN')}><td>${esc(x.group)} / ${esc(x.type)}</td>` +
    `<td>${x.status}</td><td>${backlog}</td><td>${x.inFlight}</td>` +
    `<td>${x.handled}</td><td>${x.retried}</td><td>${x.deadLetters}</td></tr>`
  );
}

/** A supervised actor's row, with the health its status implies. */
export function actorRow(a: ActorRow): string {
  return (
    `<tr data-id="${esc(a.id)}" data-status="${a.status}"${hiddenAttr(a.health)}><td>${esc(a.id)}` +
    `</td><td>${esc(a.kind)}</td><td><span class="pill ${a.health}">${a.status}</span></td><td>` +
    `${esc(a.state || '—')}</td><td>${a.restarts}</td><td>${esc(a.lastError ? a.lastError.message : '')}</td></tr>`
  );
}
