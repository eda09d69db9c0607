import {
  AckPolicy,
  DeliverPolicy,
  type Consumer,
  type ConsumerConfig,
  type JetStreamManager,
  type JsMsg,
} from '@nats-io/jetstream';
import { nanos, nuid } from '@nats-io/transport-node';
import { MissingStreamError } from '../../errors.js';
import type { ReadRequest, StoredEvent } from '../transport.js';
import type { Names } from './toolkit/names.js';
import { isNotFound } from './toolkit/provision.js';

/** Messages fetched per round trip; a slow reader holds at most this many. */
const BATCH = 256;
/** A reader that vanished (a crashed process) leaves its consumer behind no longer than this. */
const INACTIVE_MS = 30_000;

function startAt(r: ReadRequest): Partial<ConsumerConfig> {
  if (r.fromTime)
    return { deliver_policy: DeliverPolicy.StartTime, opt_start_time: r.fromTime.toISOString() };
  if (r.fromSeq !== undefined && r.fromSeq > 1)
    return { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: r.fromSeq };
  return { deliver_policy: DeliverPolicy.All };
}

function stored(names: Names, m: JsMsg): StoredEvent {
  const headers: Record<string, string> = {};
  for (const key of m.headers?.keys() ?? []) headers[key] = m.headers!.get(key);
  const type = names.typeOf(m.subject);
  return { seq: m.seq, type, storedAt: m.time.getTime(), headers, event: undefined, body: m.data };
}

/** One batch, taken off the wire whole: a reader that pauses leaves no pull request open. */
async function fetchBatch(consumer: Consumer, max: number, timeout: number): Promise<JsMsg[]> {
  const out: JsMsg[] = [];
  const batch = await consumer.fetch({ max_messages: max, expires: timeout });
  for await (const m of batch as AsyncIterable<JsMsg>) out.push(m);
  return out;
}

/** The stream's last sequence now: the read stops there. */
async function lastSeq(jsm: JetStreamManager, names: Names): Promise<number> {
  const info = await jsm.streams.info(names.eventsStream).catch((err: unknown) => {
    if (isNotFound(err)) throw new MissingStreamError(names.eventsStream, names.prefix);
    throw err;
  });
  return info.state.last_seq;
}

/**
 * Reads the events stream (see `Transport.read`) through a short-lived ephemeral consumer of its
 * own: no acks, in memory, filtered by the pattern's subject, deleted when the read ends (and by
 * the server after {@link INACTIVE_MS} if the reader dies). Nothing durable is created. Each wait
 * for a batch is bounded by `timeout`.
 * @throws {MissingStreamError} when the events stream does not exist
 */
export async function* readStream(
  jsm: JetStreamManager,
  names: Names,
  r: ReadRequest,
  timeout: number,
): AsyncGenerator<StoredEvent> {
  const last = Math.min(await lastSeq(jsm, names), r.toSeq ?? Number.POSITIVE_INFINITY);
  if (last < (r.fromSeq ?? 1) || (r.limit ?? 1) <= 0) return;
  const ci = await jsm.consumers.add(names.eventsStream, {
    name: `read_${nuid.next()}`,
    ack_policy: AckPolicy.None,
    filter_subject: names.eventSubject(r.pattern),
    inactive_threshold: nanos(INACTIVE_MS),
    mem_storage: true,
    ...startAt(r),
  });
  try {
    const consumer = await jsm.jetstream().consumers.get(names.eventsStream, ci.name);
    const toTime = r.toTime?.getTime();
    let left = Math.min(ci.num_pending, r.limit ?? Number.POSITIVE_INFINITY);
    while (left > 0 && !r.signal?.aborted) {
      const batch = await fetchBatch(consumer, Math.min(left, BATCH), timeout);
      if (batch.length === 0) return; // removed by retention since the read began
      for (const m of batch) {
        if (m.seq > last || (toTime !== undefined && m.time.getTime() > toTime)) return;
        yield stored(names, m);
        if (--left === 0 || r.signal?.aborted) return;
      }
    }
  } finally {
    await jsm.consumers.delete(names.eventsStream, ci.name).catch(() => undefined);
  }
}
