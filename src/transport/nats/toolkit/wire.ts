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
export const WireHeader = {
  msgId: 'Nats-Msg-Id',
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
    failed_at: failedAt,
    subject,
    ...(seq !== undefined && { stream_seq: seq }),
  };
}

/** @returns the dead letter stored at `dlqSeq` on the dead-letter stream */
export function deadLetterFromWire(w: DeadLetterWire, dlqSeq: number): DeadLetter {
  return {
    id: String(dlqSeq),
    event: w.event,
    reason: w.reason,
    error: w.error,
    attempts: w.attempts,
    group: w.group,
    ...(w.raw !== undefined && { raw: w.raw }),
    failedAt: w.failed_at,
    subject: w.subject,
    ...(w.stream_seq !== undefined && { seq: w.stream_seq }),
  };
}
