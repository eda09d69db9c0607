import { REDRIVE_GROUP_HEADER, type ReplayRequest, type ReplayResult } from '../transport.js';
import type { StoredMessage, TypeLog } from './type-log.js';

/**
 * Hands each stored message of the request's range to `republish`, with headers that restrict it
 * to `request.group`; messages stored after the replay starts are not replayed.
 */
export function replayRange(
  log: TypeLog,
  request: ReplayRequest,
  republish: (msg: StoredMessage, headers: Record<string, string>) => void,
): ReplayResult {
  const since = request.since?.getTime();
  const from = log.firstPosition((m) =>
    since !== undefined ? m.time >= since : m.seq >= (request.fromSeq ?? 0),
  );
  const end = log.end;
  const total = end - from;
  let replayed = 0;
  let firstSeq: number | undefined;
  let lastSeq: number | undefined;
  for (let pos = from; pos < end; pos++) {
    const m = log.at(pos);
    if (!m) continue; // dropped meanwhile: retention moved past it
    if (request.toSeq !== undefined && m.seq > request.toSeq) break;
    if (!request.dryRun) republish(m, { ...m.headers, [REDRIVE_GROUP_HEADER]: request.group });
    firstSeq ??= m.seq;
    lastSeq = m.seq;
    // Counted apart from the callback: `?.` would skip the increment when there is none.
    replayed++;
    request.onProgress?.(replayed, total);
  }
  return { replayed, ...(firstSeq !== undefined && { firstSeq, lastSeq }) };
}
