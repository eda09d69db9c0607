import {
  AckPolicy,
  DeliverPolicy,
  type Consumer,
  type ConsumerConfig,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
} from '@nats-io/jetstream';
import { headers as natsHeaders, nanos, nuid, type MsgHdrs } from '@nats-io/transport-node';
import { MissingStreamError } from '../../errors.js';
import { REDRIVE_GROUP_HEADER, type ReplayRequest, type ReplayResult } from '../transport.js';
import type { Names } from './toolkit/names.js';
import { isNotFound } from './toolkit/provision.js';
import { WireHeader } from './toolkit/wire.js';

const BATCH = 256;

/** The headers a replayed copy carries: the original's, restricted to `group`, under a fresh dedup key. */
function replayHeaders(original: MsgHdrs | undefined, group: string, seq: number): MsgHdrs {
  const h = natsHeaders();
  for (const key of original?.keys() ?? []) {
    if (key === WireHeader.msgId || key === REDRIVE_GROUP_HEADER) continue;
    for (const value of original!.values(key)) h.append(key, value);
  }
  const id = original?.get(WireHeader.msgId) || String(seq);
  h.set(WireHeader.msgId, `${id}:replay:${nuid.next()}`);
  h.set(REDRIVE_GROUP_HEADER, group);
  return h;
}

function startAt(r: ReplayRequest): Partial<ConsumerConfig> {
  if (r.since) return { deliver_policy: DeliverPolicy.StartTime, opt_start_time: r.since.toISOString() };
  if (r.fromSeq !== undefined)
    return { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: r.fromSeq };
  return { deliver_policy: DeliverPolicy.All };
}

/** Publishes each stored event of the consumer's range again, up to `upTo`; resolves with what it did. */
async function drain(
  js: JetStreamClient,
  consumer: Consumer,
  total: number,
  upTo: number,
  r: ReplayRequest,
  timeout: number,
): Promise<ReplayResult> {
  let replayed = 0;
  let firstSeq: number | undefined;
  let lastSeq: number | undefined;
  const result = (): ReplayResult => ({ replayed, ...(firstSeq !== undefined && { firstSeq, lastSeq }) });
  for (let left = total; left > 0;) {
    const batch = await consumer.fetch({ max_messages: Math.min(left, BATCH), expires: timeout });
    let got = 0;
    for await (const m of batch as AsyncIterable<JsMsg>) {
      got++;
      if (m.seq > upTo) return result();
      if (!r.dryRun)
        await js.publish(m.subject, m.data, { headers: replayHeaders(m.headers, r.group, m.seq), timeout });
      firstSeq ??= m.seq;
      lastSeq = m.seq;
      // Counted apart from the callback: `?.` would skip the increment when there is none.
      replayed++;
      r.onProgress?.(replayed, total);
    }
    if (got === 0) break;
    left -= got;
  }
  return result();
}

/**
 * Re-delivers a range of one event type's stream to one group (see `Transport.replay`), reading it
 * through a short-lived ordered consumer of its own.
 * @throws {MissingStreamError} when the events stream does not exist
 */
export async function replayRange(
  jsm: JetStreamManager,
  names: Names,
  r: ReplayRequest,
  timeout: number,
): Promise<ReplayResult> {
  const info = await jsm.streams.info(names.eventsStream).catch((err: unknown) => {
    if (isNotFound(err)) throw new MissingStreamError(names.eventsStream, names.prefix);
    throw err;
  });
  const last = info.state.last_seq;
  const ci = await jsm.consumers.add(names.eventsStream, {
    name: `replay_${nuid.next()}`,
    ack_policy: AckPolicy.None,
    filter_subject: names.eventSubject(r.type),
    inactive_threshold: nanos(30_000),
    mem_storage: true,
    ...startAt(r),
  });
  try {
    const js = jsm.jetstream();
    const consumer = await js.consumers.get(names.eventsStream, ci.name);
    return await drain(js, consumer, ci.num_pending, Math.min(r.toSeq ?? last, last), r, timeout);
  } finally {
    await jsm.consumers.delete(names.eventsStream, ci.name).catch(() => undefined);
  }
}
