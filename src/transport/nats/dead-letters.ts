import { AckPolicy, DeliverPolicy, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { nanos, nuid } from '@nats-io/transport-node';
import { encodeEvent } from '../../events/cloudevent.js';
import { isoTime } from '../../events/ids.js';
import {
  DeadLetterStoreBase,
  matchesDeadLetter,
  type DeadLetter,
  type DeadLetterDraft,
  type DeadLetterQuery,
} from '../dead-letters.js';
import { REDRIVE_GROUP_HEADER, TRACEPARENT_HEADER } from '../transport.js';
import type { Names } from './toolkit/names.js';
import { isNotFound } from './toolkit/provision.js';
import { deadLetterFromWire, deadLetterToWire, type DeadLetterWire } from './toolkit/wire.js';

/** What the store needs from its transport. */
export interface DeadLetterHost {
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  readonly names: Names;
  readonly timeoutMs: number;
  /** Publishes bytes to a live subject and resolves on the PubAck. */
  republish(
    subject: string,
    body: Uint8Array | string,
    msgId: string,
    headers: Record<string, string>,
  ): Promise<void>;
}

const SCAN_BATCH = 500;
const decoder = new TextDecoder();

/**
 * Dead letters on their own stream, `<prefix>.dlq.<group>.<type>`; a record's id is its sequence
 * there. Listing reads through a short-lived consumer filtered by group and type.
 */
export class NatsDeadLetterStore extends DeadLetterStoreBase {
  constructor(private readonly host: DeadLetterHost) {
    super();
  }

  /** Stores a dead letter and resolves once the server has it; one record per event, group and attempt chain. */
  async write(draft: DeadLetterDraft, subject: string, seq: number | undefined): Promise<void> {
    const wire = deadLetterToWire(draft, subject, seq, isoTime());
    const dedup = `dl:${draft.group}:${seq ?? draft.event.id}`;
    await this.host.js.publish(
      this.host.names.dlqSubject(draft.group, draft.event.type),
      JSON.stringify(wire),
      {
        msgID: dedup,
        timeout: this.host.timeoutMs,
      },
    );
  }

  async get(id: string): Promise<DeadLetter | undefined> {
    const seq = Number(id);
    if (!Number.isSafeInteger(seq) || seq <= 0) return undefined;
    const stored = await this.host.jsm.streams
      .getMessage(this.host.names.dlqStream, { seq })
      .catch((err: unknown) => {
        if (isNotFound(err) || (err as { code?: number }).code === 10037) return null;
        throw err;
      });
    if (!stored) return undefined;
    return deadLetterFromWire(JSON.parse(decoder.decode(stored.data)) as DeadLetterWire, stored.seq);
  }

  /** Back to the original subject, for the original group only, under a fresh dedup key. */
  protected async republish(dl: DeadLetter): Promise<void> {
    const headers: Record<string, string> = { [REDRIVE_GROUP_HEADER]: dl.group };
    if (dl.event.traceparent) headers[TRACEPARENT_HEADER] = dl.event.traceparent;
    const msgId = `${dl.event.id}:redrive:${dl.id}:${nuid.next()}`;
    const body = dl.reason === 'decode' && dl.raw !== undefined ? dl.raw : encodeEvent(dl.event);
    await this.host.republish(dl.subject, body, msgId, headers);
  }

  protected async remove(dl: DeadLetter): Promise<void> {
    await this.host.jsm.streams
      .deleteMessage(this.host.names.dlqStream, Number(dl.id), false)
      .catch((err: unknown) => {
        if ((err as { code?: number }).code !== 10057) throw err; // already gone
      });
  }

  /** Reads matching records oldest first, up to `limit`. */
  protected async select(query: DeadLetterQuery | undefined, limit: number): Promise<DeadLetter[]> {
    const { jsm, js, names } = this.host;
    const ci = await jsm.consumers.add(names.dlqStream, {
      name: `scan_${nuid.next()}`,
      ack_policy: AckPolicy.None,
      deliver_policy: DeliverPolicy.All,
      filter_subject: names.dlqSubject(query?.group, query?.type),
      inactive_threshold: nanos(30_000),
      mem_storage: true,
    });
    const out: DeadLetter[] = [];
    try {
      const consumer = await js.consumers.get(names.dlqStream, ci.name);
      let left = ci.num_pending;
      while (left > 0 && out.length < limit) {
        const batch = await consumer.fetch({ max_messages: Math.min(left, SCAN_BATCH), expires: 2_000 });
        let got = 0;
        for await (const m of batch) {
          got++;
          const dl = deadLetterFromWire(m.json<DeadLetterWire>(), m.seq);
          if (matchesDeadLetter(dl, query) && out.length < limit) out.push(dl);
        }
        if (got === 0) break;
        left -= got;
      }
    } finally {
      await jsm.consumers.delete(names.dlqStream, ci.name).catch(() => undefined);
    }
    return out;
  }
}
