import type { DeadLetter } from '../../../transport/dead-letters.js';
import { base } from './base.js';
import { fillRows, showNotice } from './dom.js';
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

/** Loads the newest dead letters into their table; says so in the notice bar when it cannot. */
export async function loadDeadLetters(): Promise<void> {
  try {
    const res = await fetch(`${base}/api/dead-letters?limit=200`);
    const list: DeadLetter[] = await res.json();
    fillRows('dead-letters', list, deadLetterRow, 'no dead letters');
  } catch {
    showNotice('could not load dead letters');
  }
}
