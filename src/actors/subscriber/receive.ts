import { decodeEvent, rawText, type CloudEvent, type RawBytes } from '../../events/cloudevent.js';
import { isoTime } from '../../events/ids.js';
import { describeError, ValidationError } from '../../errors.js';
import type { PayloadDecoder } from '../../events/versions.js';
import type { DeadLetterReason } from '../../transport/dead-letters.js';
import { REDRIVE_GROUP_HEADER, type Delivery } from '../../transport/transport.js';

/** A delivery turned into a typed event, or the reason it cannot be. */
export type Received =
  | { readonly ok: true; readonly event: CloudEvent; readonly payload: unknown }
  | { readonly ok: false; readonly skip: true }
  | {
      readonly ok: false;
      readonly skip: false;
      readonly event: CloudEvent;
      readonly reason: DeadLetterReason;
      readonly error: { name: string; message: string };
      readonly raw?: RawBytes;
    };

const SKIP: Received = { ok: false, skip: true };

/**
 * Decodes and validates a delivery for `group`: the payload is upcast to its type's newest version
 * by `decode`. A redriven event meant for another group is skipped (acked): redrive targets only
 * the group that dead-lettered it.
 */
export function receive(delivery: Delivery, group: string, decode: PayloadDecoder): Received {
  const target = delivery.header(REDRIVE_GROUP_HEADER);
  if (target !== undefined && target !== group) return SKIP;
  let event = delivery.event;
  if (event === undefined) {
    try {
      event = decodeEvent(delivery.body ?? '');
    } catch (err) {
      return {
        ok: false,
        skip: false,
        event: standIn(delivery),
        reason: 'decode',
        error: describeError(err),
        raw: rawText(delivery.body),
      };
    }
  }
  // Another writer on the subject could claim any type: the schema that applies is the subject's.
  if (event.type !== delivery.type) {
    const error = new ValidationError(
      `event type "${event.type}" does not match its subject's type "${delivery.type}"`,
    );
    return { ok: false, skip: false, event, reason: 'validation', error: describeError(error) };
  }
  const decoded = decode(event);
  if (decoded.ok) return { ok: true, event, payload: decoded.payload };
  return { ok: false, skip: false, event, reason: 'validation', error: describeError(decoded.error) };
}

/** A CloudEvent that stands in for bytes that could not be decoded, so the dead letter has one. */
function standIn(delivery: Delivery): CloudEvent {
  return {
    specversion: '1.0',
    id: delivery.msgId ?? `undecodable-${delivery.seq ?? isoTime()}`,
    source: 'unknown',
    type: delivery.type,
    time: isoTime(),
    datacontenttype: 'application/octet-stream',
    data: null,
  };
}
