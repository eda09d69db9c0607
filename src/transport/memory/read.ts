import { matchesPattern } from '../../events/patterns.js';
import type { ReadRequest, StoredEvent } from '../transport.js';
import type { StoredMessage, TypeLog } from './type-log.js';

/** Where one type's log is read from, and the end it had when the read began. */
interface Cursor {
  readonly log: TypeLog;
  pos: number;
  readonly end: number;
}

function cursorOf(log: TypeLog, r: ReadRequest): Cursor {
  const since = r.fromTime?.getTime();
  const from = r.fromSeq ?? 0;
  const pos = log.firstPosition((m) => (since !== undefined ? m.time >= since : m.seq >= from));
  return { log, pos, end: log.end };
}

/** The cursor's next message, past any that retention dropped while the read went on. */
function head(c: Cursor): StoredMessage | undefined {
  if (c.pos < c.log.start) c.pos = c.log.start;
  return c.pos < c.end ? c.log.at(c.pos) : undefined;
}

/** The cursor whose next message has the lowest sequence; undefined when all are done. */
function lowest(cursors: readonly Cursor[]): { cursor: Cursor; msg: StoredMessage } | undefined {
  let best: { cursor: Cursor; msg: StoredMessage } | undefined;
  for (const cursor of cursors) {
    const msg = head(cursor);
    if (msg && (!best || msg.seq < best.msg.seq)) best = { cursor, msg };
  }
  return best;
}

function beyond(m: StoredMessage, r: ReadRequest, toTime: number | undefined): boolean {
  return (r.toSeq !== undefined && m.seq > r.toSeq) || (toTime !== undefined && m.time > toTime);
}

function stored(m: StoredMessage): StoredEvent {
  return { seq: m.seq, type: m.type, storedAt: m.time, headers: m.headers, event: m.event, body: m.body };
}

/**
 * Reads the retained logs of every type matching `r.pattern` merged in sequence order (see
 * `Transport.read`); events stored after the read begins are not read.
 * @param logs - every type's log, by type
 */
export async function* readLogs(
  logs: Iterable<readonly [string, TypeLog]>,
  r: ReadRequest,
): AsyncGenerator<StoredEvent> {
  const cursors = [...logs]
    .filter(([type]) => matchesPattern(r.pattern, type))
    .map(([, log]) => cursorOf(log, r));
  const toTime = r.toTime?.getTime();
  for (let left = r.limit ?? Number.POSITIVE_INFINITY; left > 0 && !r.signal?.aborted; left--) {
    const next = lowest(cursors);
    if (!next || beyond(next.msg, r, toTime)) return;
    next.cursor.pos++;
    yield stored(next.msg);
  }
}
