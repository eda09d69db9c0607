import type { CloudEvent } from '../../../events/cloudevent.js';
import type { DeadLetter, DeadLetterDraft, DeadLetterReason } from '../../dead-letters.js';

/**
 * What bulwark stores on JetStream, in snake_case as it sits on the wire; the domain types
 * (`DeadLetter`) are built from these and never stored as they are.
 */

/** One dead letter, the payload of a message on the dead-letter stream. */
export interface DeadLetterWire {
  readonly v: 1;
  readonly event: CloudEvent;
  readonly reason: DeadLetterReason;
  readonly error: { readonly name: string; readonly message: string };
  readonly attempts: number;
  readonly group: string;
  readonly raw?: string;
  readonly raw_encoding?: 'base64';
  /** The event's data and raw bytes were left out: too large or too deep to store. */
  readonly truncated?: true;
  readonly failed_at: string;
  /** The live subject it was taken from. */
  readonly subject: string;
  /** Its sequence on the events stream. */
  readonly stream_seq?: number;
}

/** A line of the outbox journal: an accepted publish (`a`) or a stored one (`d`). */
export type OutboxLineWire =
  | {
      readonly a: number;
      readonly i: string;
      readonly s: string;
      readonly m: string;
      readonly h: Readonly<Record<string, string>>;
      readonly b: string;
    }
  | { readonly d: number };

/** Headers bulwark sets on the events it publishes. */
/** Room a stored record leaves under the server's `max_payload` for the headers it travels with. */
export const HEADER_ROOM = 1_024;

export const WireHeader = {
  msgId: 'Nats-Msg-Id',
  /** Makes a write a compare-and-set on its subject: stored only while that subject's last message has this sequence (0: none). */
  expectedLastSubjectSeq: 'Nats-Expected-Last-Subject-Sequence',
  contentType: 'content-type',
} as const;

/** @returns the wire record of a dead letter about to be stored */
export function deadLetterToWire(
  draft: DeadLetterDraft,
  subject: string,
  seq: number | undefined,
  failedAt: string,
): DeadLetterWire {
  return {
    v: 1,
    event: draft.event,
    reason: draft.reason,
    error: { name: draft.error.name, message: draft.error.message },
    attempts: draft.attempts,
    group: draft.group,
    ...(draft.raw !== undefined && { raw: draft.raw }),
    ...(draft.rawEncoding && { raw_encoding: draft.rawEncoding }),
    failed_at: failedAt,
    subject,
    ...(seq !== undefined && { stream_seq: seq }),
  };
}

/**
 * @returns the dead letter stored at `dlqSeq` on the dead-letter stream
 * @throws {TypeError} when the record is not one (another writer's bytes on the subject)
 */
export function deadLetterFromWire(w: DeadLetterWire, dlqSeq: number): DeadLetter {
  if (typeof w !== 'object' || w === null || typeof w.event !== 'object' || w.event === null)
    throw new TypeError(`record ${dlqSeq} on the dead-letter stream is not a dead letter`);
  return {
    id: String(dlqSeq),
    event: w.event,
    reason: w.reason,
    error: w.error,
    attempts: w.attempts,
    group: w.group,
    ...(w.raw !== undefined && { raw: w.raw }),
    ...(w.raw_encoding && { rawEncoding: w.raw_encoding }),
    ...(w.truncated && { truncated: true }),
    failedAt: w.failed_at,
    subject: w.subject,
    ...(w.stream_seq !== undefined && { seq: w.stream_seq }),
  };
}

/** How much of a too-large dead letter's strings a truncated record keeps. */
const PREVIEW = 512;

/**
 * The record of a dead letter too large or too deep to store as it was: the event's attributes
 * (each string cut to a preview), no data and no raw bytes, and the original's stream sequence so
 * that a redrive can read it back.
 */
export function truncatedWire(w: DeadLetterWire): DeadLetterWire {
  const event: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(w.event)) {
    if (k === 'data') continue;
    if (typeof v === 'string') event[k] = v.slice(0, PREVIEW);
    else if (typeof v === 'number' || typeof v === 'boolean') event[k] = v;
  }
  return {
    v: 1,
    event: event as unknown as CloudEvent,
    reason: w.reason,
    error: { name: w.error.name.slice(0, PREVIEW), message: w.error.message.slice(0, PREVIEW) },
    attempts: w.attempts,
    group: w.group,
    truncated: true,
    failed_at: w.failed_at,
    subject: w.subject,
    ...(w.stream_seq !== undefined && { stream_seq: w.stream_seq }),
  };
}
