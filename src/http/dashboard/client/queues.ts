/**
 * The job queues' panels: each queue with its pause state and its pause/resume button, the queues'
 * job schedulers with their next and last slots, and a progress bar for each active job that
 * reported progress.
 */
import type { JobProgressRow } from '../job-progress.js';
import type { QueueRow } from '../queue-rows.js';
import type { SchedulerRow } from '../scheduler-board.js';
import type { DashboardSnapshot } from '../snapshot.js';
import { fillRows } from './dom.js';
import { duration, escapeHtml as esc } from './format.js';

/** Longest progress object shown as text; a longer one is cut. */
const MAX_PROGRESS_TEXT = 160;

/** A job queue's row: paused or running, its counts, and the button that flips it. */
export function queueRow(q: QueueRow): string {
  // Any object with counts() can be a dashboard queue: one from outside may leave a count out.
  const completed = q.counts.completed || 0;
  const op = q.paused ? 'resume' : 'pause';
  return (
    `<tr data-queue="${esc(q.name)}" data-paused="${q.paused}"><td>${esc(q.name)}</td>` +
    `<td><span class="pill ${q.paused ? 'DEGRADED' : 'HEALTHY'}">${q.paused ? 'paused' : 'running'}</span></td>` +
    `<td>${q.backlog}</td><td>${q.inFlight}</td><td>${completed}</td><td>${q.deadLetters}</td>` +
    `<td><button type="button" data-action="queue" data-op="${op}" data-name="${esc(q.name)}">${op}</button></td></tr>`
  );
}

/** A slot's time, and how far it is from the snapshot's. */
function slot(ms: number | undefined, now: number): string {
  if (ms === undefined) return '—';
  const at = new Date(ms).toLocaleString();
  return ms > now ? `${at} (in ${duration(ms - now)})` : `${at} (${duration(now - ms)} ago)`;
}

type SchedulerItem = SchedulerRow & { readonly queue: string; readonly more?: number };

function schedulerRow(s: SchedulerItem, now: number): string {
  if (s.more !== undefined)
    return `<tr><td>${esc(s.queue)}</td><td colspan="5" class="empty">and ${s.more} more</td></tr>`;
  const schedule = s.everyMs !== undefined ? `every ${duration(s.everyMs)}` : esc(s.cron ?? '');
  return (
    `<tr data-scheduler="${esc(`${s.queue}/${s.name}`)}"><td>${esc(s.queue)}</td><td>${esc(s.name)}</td>` +
    `<td>${schedule}</td><td>${esc(s.tz ?? '')}</td><td>${slot(s.nextSlot, now)}</td>` +
    `<td>${slot(s.lastSlot, now)}</td></tr>`
  );
}

/** A percentage as a bar; any other progress as its JSON, cut short. */
function progressCell(p: JobProgressRow['progress']): string {
  if (typeof p === 'number') {
    const pct = Math.min(100, Math.max(0, p));
    return `<progress max="100" value="${pct}"></progress> <span class="pct">${Math.round(pct)} %</span>`;
  }
  const text = JSON.stringify(p);
  return `<code>${esc(text.length > MAX_PROGRESS_TEXT ? `${text.slice(0, MAX_PROGRESS_TEXT)}…` : text)}</code>`;
}

function progressRow(j: JobProgressRow & { readonly queue: string }): string {
  return (
    `<tr data-job="${esc(`${j.queue}/${j.id}`)}"><td>${esc(j.queue)}</td><td>${esc(j.id)}</td>` +
    `<td>${esc(j.name)}</td><td>${progressCell(j.progress)}</td></tr>`
  );
}

/** Shows the queues, their schedulers and their active jobs' progress. */
export function renderQueues(s: DashboardSnapshot): void {
  const now = Date.parse(s.timestamp);
  fillRows('queues', s.queues, queueRow, 'no queues');
  const schedulers = s.queues.flatMap((q): SchedulerItem[] => {
    const rows = q.schedulers.map((r) => ({ ...r, queue: q.name }));
    const more = q.schedulerCount - rows.length;
    return more > 0 ? [...rows, { name: '', queue: q.name, more }] : rows;
  });
  fillRows('schedulers', schedulers, (r) => schedulerRow(r, now), 'no job schedulers');
  const progress = s.queues.flatMap((q) => q.progress.map((j) => ({ ...j, queue: q.name })));
  fillRows('job-progress', progress, progressRow, 'no active job reported progress');
}
