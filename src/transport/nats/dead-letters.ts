import { AckPolicy, DeliverPolicy, type JetStreamManager } from '@nats-io/jetstream';
import { nanos, nuid } from '@nats-io/transport-node';
import { encodeEvent, rawBytes } from '../../events/cloudevent.js';
import { isoTime } from '../../events/ids.js';
import { TransportError } from '../../errors.js';
import type { Logger } from '../../logging.js';
import {
  DeadLetterStoreBase,
  matchesDeadLetter,
  type DeadLetter,
  type DeadLetterDraft,
  type DeadLetterQuery,
  type RedriveLease,
} from '../dead-letters.js';
import { KvConflictError, type KeyValueStore } from '../key-value.js';
import { REDRIVE_GROUP_HEADER, TRACEPARENT_HEADER } from '../transport.js';
import type { Names } from './toolkit/names.js';
import { isNoMessage, isNotFound } from './toolkit/provision.js';
import {
  deadLetterFromWire,
  deadLetterToWire,
  HEADER_ROOM,
  truncatedWire,
  type DeadLetterWire,
} from './toolkit/wire.js';

/** What the store needs from its transport. */
export interface DeadLetterHost {
  readonly jsm: JetStreamManager;
  readonly names: Names;
  readonly logger: Logger;
  /** The largest message the server takes (its `max_payload`). */
  readonly maxPayload: number;
  /** Stores bytes on a subject and resolves on the PubAck. @throws {TransportError} */
  store(subject: string, body: Uint8Array, msgId: string): Promise<void>;
  /** Publishes bytes to a live subject (through the outbox) and resolves once stored. */
  republish(
    subject: string,
    body: Uint8Array | string,
    msgId: string,
    headers: Record<string, string>,
  ): Promise<void>;
  /** Creates the events and dead-letter streams when missing (an operator deleted one). */
  provision(): Promise<void>;
  /** The bucket redrives claim letters in. */
  leases(): Promise<KeyValueStore>;
  /** A claim held this long without progress belongs to a redrive that died: another may take it over. */
  readonly leaseMs: number;
}

const SCAN_BATCH = 500;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A redrive's claim as the lease bucket holds it. */
interface LeaseValue {
  readonly by: string;
  readonly at: number;
  readonly published: boolean;
}

/**
 * Dead letters on their own stream, `<prefix>.dlq.<group>.<type>`; a record's id is its sequence
 * there. Listing reads through a short-lived consumer filtered by group and type; records that are
 * not dead letters (another writer's bytes on the subject) are skipped and counted, never fatal.
 */
export class NatsDeadLetterStore extends DeadLetterStoreBase {
  /** Records read from the stream that were not dead letters, since this store opened. */
  unreadable = 0;
  private readonly owner = nuid.next();

  constructor(private readonly host: DeadLetterHost) {
    super();
  }

  /**
   * Stores a dead letter and resolves once the server has it; one record per event, group and
   * attempt chain. One too large or too deep to store as it is goes in truncated, with the
   * original's stream sequence; a missing dead-letter stream is provisioned again.
   * @throws {TransportError} when the server does not store it
   */
  async write(draft: DeadLetterDraft, subject: string, seq: number | undefined): Promise<void> {
    const body = this.encode(deadLetterToWire(draft, subject, seq, isoTime()));
    const target = this.host.names.dlqSubject(draft.group, draft.event.type);
    const dedup = `dl:${draft.group}:${seq ?? draft.event.id}`;
    try {
      await this.host.store(target, body, dedup);
    } catch (err) {
      if (!(await this.streamMissing())) throw err;
      this.host.logger.warn(
        { stream: this.host.names.dlqStream },
        'dead-letter stream was missing; created again',
      );
      await this.host.provision();
      await this.host.store(target, body, dedup);
    }
  }

  private encode(wire: DeadLetterWire): Uint8Array {
    const limit = this.host.maxPayload - HEADER_ROOM;
    let bytes: Uint8Array | undefined;
    try {
      bytes = encoder.encode(JSON.stringify(wire));
    } catch {
      // Too deep for JSON.stringify (or not JSON at all): stored truncated below.
    }
    if (bytes && bytes.byteLength <= limit) return bytes;
    return encoder.encode(JSON.stringify(truncatedWire(wire)));
  }

  private async streamMissing(): Promise<boolean> {
    return this.host.jsm.streams.info(this.host.names.dlqStream).then(
      () => false,
      (err: unknown) => isNotFound(err),
    );
  }

  async get(id: string): Promise<DeadLetter | undefined> {
    const seq = Number(id);
    if (!Number.isSafeInteger(seq) || seq <= 0) return undefined;
    const stored = await this.host.jsm.streams
      .getMessage(this.host.names.dlqStream, { seq })
      .catch((err: unknown) => {
        if (isNoMessage(err)) return null;
        throw err;
      });
    return stored ? this.read(stored.data, stored.seq) : undefined;
  }

  /** A record, or undefined (counted) when it is not a dead letter. */
  private read(data: Uint8Array, seq: number): DeadLetter | undefined {
    try {
      return deadLetterFromWire(JSON.parse(decoder.decode(data)) as DeadLetterWire, seq);
    } catch {
      this.unreadable++;
      return undefined;
    }
  }

  /** Back to the original subject, for the original group only, under a key this letter always gets. */
  protected async republish(dl: DeadLetter): Promise<void> {
    const headers: Record<string, string> = { [REDRIVE_GROUP_HEADER]: dl.group };
    if (dl.event.traceparent) headers[TRACEPARENT_HEADER] = dl.event.traceparent;
    // The same key on every try: a redrive repeated within the stream's dedup window stores once.
    const msgId = `${dl.event.id}:redrive:${dl.id}`;
    await this.host.republish(dl.subject, await this.bodyOf(dl), msgId, headers);
  }

  /** What goes back: the undecodable bytes as they were, the event, or a truncated letter's original. */
  private async bodyOf(dl: DeadLetter): Promise<Uint8Array | string> {
    if (dl.truncated) return this.original(dl);
    if (dl.reason === 'decode' && dl.raw !== undefined) return rawBytes(dl.raw, dl.rawEncoding);
    return encodeEvent(dl.event);
  }

  private async original(dl: DeadLetter): Promise<Uint8Array> {
    const { jsm, names } = this.host;
    const gone = new TransportError(
      `dead letter ${dl.id} was stored truncated and its original is no longer in ${names.eventsStream}`,
    );
    if (dl.seq === undefined || names.typeOf(dl.subject) === dl.subject) throw gone;
    const stored = await jsm.streams.getMessage(names.eventsStream, { seq: dl.seq }).catch((err: unknown) => {
      if (isNoMessage(err)) return null;
      throw err;
    });
    if (!stored || stored.subject !== dl.subject) throw gone;
    return stored.data;
  }

  protected async remove(dl: DeadLetter): Promise<void> {
    await this.host.jsm.streams
      .deleteMessage(this.host.names.dlqStream, Number(dl.id), false)
      .catch((err: unknown) => {
        if ((err as { code?: number }).code !== 10057) throw err; // already gone
      });
  }

  /** A claim every process sees: a key per letter in the lease bucket, created or taken over with compare-and-set. */
  protected override async lease(dl: DeadLetter): Promise<RedriveLease | undefined> {
    const kv = await this.host.leases();
    const key = `dl_${dl.id}`;
    try {
      return this.claim(kv, key, await kv.create(key, this.value(false)), false);
    } catch (err) {
      if (!(err instanceof KvConflictError)) throw err;
    }
    const held = await kv.get(key);
    const value = held && (JSON.parse(decoder.decode(held.value)) as LeaseValue);
    if (!held || !value || value.at > Date.now() - this.host.leaseMs) return undefined;
    try {
      const revision = await kv.update(key, this.value(value.published), held.revision);
      return this.claim(kv, key, revision, value.published);
    } catch (err) {
      if (err instanceof KvConflictError) return undefined;
      throw err;
    }
  }

  private claim(kv: KeyValueStore, key: string, revision: number, published: boolean): RedriveLease {
    let rev = revision;
    let done = published;
    return {
      published,
      markPublished: async () => {
        done = true;
        rev = await kv.update(key, this.value(true), rev);
      },
      // Given up: stale at once, so that a retry takes it over and sees what was published.
      release: async (removed) =>
        removed ? kv.delete(key) : void (await kv.update(key, this.value(done, 0), rev)),
    };
  }

  private value(published: boolean, at = Date.now()): Uint8Array {
    return encoder.encode(JSON.stringify({ by: this.owner, at, published } satisfies LeaseValue));
  }

  /** Reads matching records oldest first, up to `limit`; records that are not dead letters are skipped. */
  protected async select(query: DeadLetterQuery | undefined, limit: number): Promise<DeadLetter[]> {
    const { jsm, names } = this.host;
    const ci = await jsm.consumers
      .add(names.dlqStream, {
        name: `scan_${nuid.next()}`,
        ack_policy: AckPolicy.None,
        deliver_policy: DeliverPolicy.All,
        filter_subject: names.dlqSubject(query?.group, query?.type),
        inactive_threshold: nanos(30_000),
        mem_storage: true,
      })
      .catch((err: unknown) => {
        if (isNotFound(err)) return undefined; // no stream, no dead letters: the next write makes it
        throw err;
      });
    if (!ci) return [];
    const out: DeadLetter[] = [];
    const before = this.unreadable;
    try {
      const consumer = await jsm.jetstream().consumers.get(names.dlqStream, ci.name);
      let left = ci.num_pending;
      while (left > 0 && out.length < limit) {
        const batch = await consumer.fetch({ max_messages: Math.min(left, SCAN_BATCH), expires: 2_000 });
        let got = 0;
        for await (const m of batch) {
          got++;
          const dl = this.read(m.data, m.seq);
          if (dl && matchesDeadLetter(dl, query) && out.length < limit) out.push(dl);
        }
        if (got === 0) break;
        left -= got;
      }
    } finally {
      await jsm.consumers.delete(names.dlqStream, ci.name).catch(() => undefined);
    }
    if (this.unreadable > before)
      this.host.logger.warn(
        { stream: names.dlqStream, skipped: this.unreadable - before },
        'records on the dead-letter stream that are not dead letters were skipped',
      );
    return out;
  }
}
