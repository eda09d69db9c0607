import { nanos, type Msg } from '@nats-io/transport-node';

/**
 * JetStream's acknowledgement vocabulary: the bodies a consumer writes to a message's reply
 * subject (plain core publishes, batched with everything else sent in the same tick), and how to
 * read the delivery count, stream sequence and pending count off that subject.
 */
export const AckBody = {
  ack: '+ACK',
  nak: '-NAK',
  working: '+WPI',
  term: '+TERM',
} as const;

// Encoded once: nats.js would UTF-8 encode a string body on every ack.
const encoder = new TextEncoder();
const ACK = encoder.encode(AckBody.ack);
const NAK = encoder.encode(AckBody.nak);
const WORKING = encoder.encode(AckBody.working);
const TERM = encoder.encode(AckBody.term);

/** Done: the message leaves the consumer's live path. */
export function ack(msg: Msg): void {
  msg.respond(ACK);
}

/** Deliver it again, after `delayMs` (rounded to whole ms; 0 for at once). */
export function nak(msg: Msg, delayMs = 0): void {
  const ms = Math.max(0, Math.round(delayMs));
  msg.respond(ms === 0 ? NAK : `${AckBody.nak} {"delay":${nanos(ms)}}`);
}

/** Still working: restarts the consumer's ack wait for this message. */
export function working(msg: Msg): void {
  msg.respond(WORKING);
}

/**
 * Never again. `reason` is sent only where the server honours it: before 2.10 a term with a
 * reason is no term at all (the message comes back after the ack wait).
 */
export function term(msg: Msg, reason?: string): void {
  msg.respond(reason === undefined ? TERM : `${AckBody.term} ${reason}`);
}

/** The prefix of every ack subject. */
export const ACK_PREFIX = '$JS.ACK.';

/**
 * Delivery count, stream sequence and pending count from a JetStream ack subject, either
 * `$JS.ACK.<stream>.<consumer>.<count>.<sseq>.<dseq>.<ts>.<pending>` or the form with
 * `<domain>.<account hash>` after `ACK` and a trailing random token.
 */
export function parseAckSubject(reply: string): [delivered: number, seq: number, pending: number] {
  let dots = 0;
  for (let i = reply.indexOf('.'); i >= 0; i = reply.indexOf('.', i + 1)) dots++;
  // 9 tokens (8 dots): count is the 5th token; the longer form puts it 2 tokens later.
  const short = dots === 8;
  let start = 0;
  for (let k = 0; k < (short ? 4 : 6); k++) start = reply.indexOf('.', start) + 1;
  const mid = reply.indexOf('.', start);
  const end = reply.indexOf('.', mid + 1);
  const last = reply.lastIndexOf('.');
  const pending = short
    ? Number(reply.slice(last + 1))
    : Number(reply.slice(reply.lastIndexOf('.', last - 1) + 1, last));
  return [Number(reply.slice(start, mid)), Number(reply.slice(mid + 1, end)), pending];
}
