import {
  AckPolicy,
  DeliverPolicy,
  jetstreamManager,
  type Consumer,
  type ConsumerConfig,
  type JetStreamClient,
  type JsMsg,
} from '@nats-io/jetstream';
import { connect, headers as natsHeaders, nanos, nuid, type MsgHdrs } from '@nats-io/transport-node';
import { REDRIVE_GROUP_HEADER } from '../transport.js';
import { Names } from './toolkit/names.js';
import { WireHeader } from './toolkit/wire.js';

/** Options of {@link replayEvents}. */
export interface ReplayOptions {
  /** @default 'nats://127.0.0.1:4222' */
  readonly servers?: string | readonly string[];
  /** @default 'bulwark' */
  readonly prefix?: string;
  /** The JetStream domain of the streams. @default undefined (the local JetStream) */
  readonly domain?: string;
  /** The event type to replay. */
  readonly type: string;
  /** Only this group handles the replayed events; the others skip them. */
  readonly group: string;
  /** First stream sequence to replay (inclusive). */
  readonly fromSeq?: number;
  /** Last stream sequence to replay (inclusive). @default the last one stored when the replay starts */
  readonly toSeq?: number;
  /** Replay events stored since this time (instead of `fromSeq`). */
  readonly since?: Date;
  /** Count only, republish nothing. @default false */
  readonly dryRun?: boolean;
  /** @default 2_000 */
  readonly timeoutMs?: number;
  /** Called after each event, with how many are done and how many there are at most. */
  readonly onProgress?: (done: number, total: number) => void;
}

/** What a replay did. */
export interface ReplayResult {
  readonly replayed: number;
  readonly firstSeq?: number;
  readonly lastSeq?: number;
}

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

function startAt(o: ReplayOptions): Partial<ConsumerConfig> {
  if (o.since) return { deliver_policy: DeliverPolicy.StartTime, opt_start_time: o.since.toISOString() };
  if (o.fromSeq !== undefined)
    return { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: o.fromSeq };
  return { deliver_policy: DeliverPolicy.All };
}

/** Publishes each stored event of the consumer's range again, up to `upTo`; resolves with what it did. */
async function drain(
  js: JetStreamClient,
  consumer: Consumer,
  total: number,
  upTo: number,
  o: ReplayOptions,
  timeout: number,
): Promise<ReplayResult> {
  let replayed = 0;
  let firstSeq: number | undefined;
  let lastSeq: number | undefined;
  for (let left = total; left > 0;) {
    const batch = await consumer.fetch({ max_messages: Math.min(left, BATCH), expires: timeout });
    let got = 0;
    for await (const m of batch as AsyncIterable<JsMsg>) {
      got++;
      if (m.seq > upTo) return { replayed, ...(firstSeq !== undefined && { firstSeq, lastSeq }) };
      if (!o.dryRun)
        await js.publish(m.subject, m.data, { headers: replayHeaders(m.headers, o.group, m.seq), timeout });
      firstSeq ??= m.seq;
      lastSeq = m.seq;
      o.onProgress?.(++replayed, total);
    }
    if (got === 0) break;
    left -= got;
  }
  return { replayed, ...(firstSeq !== undefined && { firstSeq, lastSeq }) };
}

/**
 * Re-delivers a range of one event type's stream to one group: each stored event in the range is
 * published again to its subject with the redrive-group header, so that only `group` handles it.
 * Events stored after the replay starts (its own copies among them) are not replayed.
 * @throws {Error} when the server cannot be reached or the events stream does not exist
 * @example
 * await replayEvents({ servers: 'nats://127.0.0.1:4222', type: 'user.created', group: 'mailer', fromSeq: 100, toSeq: 200 });
 */
export async function replayEvents(o: ReplayOptions): Promise<ReplayResult> {
  const names = new Names(o.prefix ?? 'bulwark');
  const servers = o.servers ?? 'nats://127.0.0.1:4222';
  const timeout = o.timeoutMs ?? 2_000;
  const nc = await connect({
    servers: typeof servers === 'string' ? servers : [...servers],
    timeout,
    name: 'bulwark-replay',
  });
  try {
    const jsm = await jetstreamManager(nc, { timeout, ...(o.domain !== undefined && { domain: o.domain }) });
    const last = (await jsm.streams.info(names.eventsStream)).state.last_seq;
    const ci = await jsm.consumers.add(names.eventsStream, {
      name: `replay_${nuid.next()}`,
      ack_policy: AckPolicy.None,
      filter_subject: names.eventSubject(o.type),
      inactive_threshold: nanos(30_000),
      mem_storage: true,
      ...startAt(o),
    });
    try {
      const js = jsm.jetstream();
      const consumer = await js.consumers.get(names.eventsStream, ci.name);
      return await drain(js, consumer, ci.num_pending, Math.min(o.toSeq ?? last, last), o, timeout);
    } finally {
      await jsm.consumers.delete(names.eventsStream, ci.name).catch(() => undefined);
    }
  } finally {
    await nc.close();
  }
}
