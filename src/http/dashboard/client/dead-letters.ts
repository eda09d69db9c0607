import type { DeadLetter } from '../../../transport/dead-letters.js';
import { getJson } from './data.js';
import { byId, fillRows, showNotice } from './dom.js';
import { escapeHtml as esc } from './format.js';

/** A dead letter's row: its event (data folded away), why it failed, and its admin buttons. */
export function deadLetterRow(d: DeadLetter): string {
  return (
    `<tr data-dead-letter="${esc(d.id)}"><td><details><summary>${esc(d.event.type)}</summary><pre>` +
    `${esc(JSON.stringify(d.event.data, null, 2))}</pre></details><div class="meta">${esc(d.event.id)}</div></td>` +
    `<td>${esc(d.group)}</td><td>${d.reason}</td><td>${esc(`${d.error.name}: ${d.error.message}`)}</td>` +
    `<td>${d.attempts}</td><td>${esc(d.failedAt)}</td><td>` +
    `<button type="button" data-action="redrive" data-id="${esc(d.id)}">redrive</button> ` +
    `<button type="button" data-action="purge" data-id="${esc(d.id)}">purge</button></td></tr>`
  );
}

/** Rows the table shows at most. */
const LIMIT = 200;

/** Counts the loads started, so that an older one that ends late does not overwrite a newer one. */
let generation = 0;

/** What the heading says for `shown` rows of `total` dead letters. */
function countText(shown: number, total: number): string {
  return shown < total ? `${shown} of ${total}` : String(shown);
}

/**
 * Shows that the list for a new count is on its way (never a count above an empty table), then
 * loads the newest dead letters; the heading counts the rows that arrived.
 */
export async function loadDeadLetters(total: number): Promise<void> {
  const mine = ++generation;
  byId('dl-count').textContent = total === 0 ? '0' : `${total}, loading…`;
  if (total > 0 && !byId('dead-letters').querySelector('tr[data-dead-letter]'))
    fillRows('dead-letters', [], deadLetterRow, 'loading…');
  try {
    const list = await getJson<DeadLetter[]>(`/api/dead-letters?limit=${LIMIT}`);
    // A later count started a later load: its rows win.
    if (mine !== generation) return;
    fillRows('dead-letters', list, deadLetterRow, 'no dead letters');
    byId('dl-count').textContent = countText(list.length, Math.max(total, list.length));
  } catch {
    if (mine !== generation) return;
    byId('dl-count').textContent = String(total);
    showNotice('could not load dead letters');
  }
}
