import type { Msg } from '@nats-io/transport-node';
import { nanos } from '@nats-io/transport-node';

// Encoded once: nats.js would UTF-8 encode a string body on every ack.
const encoder = new TextEncoder();
const ACK = encoder.encode('+ACK');
const WORKING = encoder.encode('+WPI');
const NAK = encoder.encode('-NAK');
const TERM = encoder.encode('+TERM');

/**
 * One delivery of a queue consumer, settled by writing JetStream's acknowledgement bodies to its
 * reply subject (plain core publishes, batched with everything else sent in the same tick).
 */
export class QueueMsg {
  constructor(
    private readonly msg: Msg,
    /** The server's delivery count of this message (1 on first delivery). */
    readonly delivered: number,
    readonly seq: number,
    /** Messages the consumer still held for delivery right after this one. */
    readonly pending: number,
  ) {}

  get subject(): string {
    return this.msg.subject;
  }

  get data(): Uint8Array {
    return this.msg.data;
  }

  ack(): void {
    this.msg.respond(ACK);
  }

  /** Sends the message back; it is delivered again after `delayMs`. */
  nak(delayMs = 0): void {
    const ms = Math.max(0, Math.round(delayMs));
    this.msg.respond(ms === 0 ? NAK : `-NAK {"delay":${nanos(ms)}}`);
  }

  /** Never again (plain `+TERM`: a term with a reason is no term on server 2.9). */
  term(): void {
    this.msg.respond(TERM);
  }

  working(): void {
    this.msg.respond(WORKING);
  }
}

/** The consumer's pending count: the last token of the 9-token ack subject, else the one before. */
export function pendingOf(reply: string): number {
  const end = reply.lastIndexOf('.');
  const last = Number(reply.slice(end + 1));
  if (reply.startsWith('$JS.ACK.') && countDots(reply) === 8) return last;
  const before = reply.lastIndexOf('.', end - 1);
  return Number(reply.slice(before + 1, end));
}

function countDots(s: string): number {
  let n = 0;
  for (let i = s.indexOf('.'); i >= 0; i = s.indexOf('.', i + 1)) n++;
  return n;
}

/**
 * Jobs handed back on close return after this: a closed worker's pull requests stay on the server
 * until they expire (2 s), and a job sent back at once could be delivered to one of them (and
 * then sit until the ack wait).
 */
export const HANDBACK_DELAY_MS = 2_250;
