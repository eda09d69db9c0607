import type { JetStreamManager, StoredMsg } from '@nats-io/jetstream';
import { isNoMessage } from '../toolkit/provision.js';

/** What reading one message of a queue's stream needs. */
export interface QueueStreamReader {
  readonly jsm: JetStreamManager;
  readonly names: { readonly stream: string };
}

/** @returns the last message on `subject` (wildcards allowed), or null */
export function lastMessage(ctx: QueueStreamReader, subject: string): Promise<StoredMsg | null> {
  return ctx.jsm.streams.getMessage(ctx.names.stream, { last_by_subj: subject }).catch((err: unknown) => {
    if (isNoMessage(err)) return null;
    throw err;
  });
}

/**
 * @returns the nanoseconds of a stored message's server timestamp (RFC 3339 with up to nine digits
 * of fraction), as `[ms since the epoch, ns within the ms]`
 */
function stamp(msg: StoredMsg): [number, number] {
  const ts = msg.timestamp;
  const dot = ts.indexOf('.');
  if (dot < 0) return [Date.parse(ts), 0];
  let end = dot + 1;
  while (end < ts.length && ts.charCodeAt(end) >= 48 && ts.charCodeAt(end) <= 57) end++;
  const fraction = ts.slice(dot + 1, end).padEnd(9, '0');
  const ms = Date.parse(ts.slice(0, dot) + ts.slice(end)) + Number(fraction.slice(0, 3));
  return [ms, Number(fraction.slice(3))];
}

/**
 * @returns whether `a` was stored after `b` by the server, to the nanosecond: how a job's record in
 * its queue's stream and its parked record in another stream tell which is its current state
 */
export function storedAfter(a: StoredMsg, b: StoredMsg): boolean {
  const [am, an] = stamp(a);
  const [bm, bn] = stamp(b);
  return am > bm || (am === bm && an > bn);
}
