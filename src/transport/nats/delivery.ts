import type { Msg } from '@nats-io/transport-node';
import { nanos } from '@nats-io/transport-node';
import type { CloudEvent } from '../../events/cloudevent.js';
import type { DeadLetterDraft } from '../dead-letters.js';
import type { Delivery } from '../transport.js';

/** What a delivery needs from the consumer that handed it out. */
export interface DeliveryOwner {
  /** Stores a dead letter; resolves on the dead-letter stream's PubAck. */
  writeDeadLetter(draft: DeadLetterDraft, subject: string, seq: number): Promise<void>;
  /** Servers before 2.10 treat `term(reason)` as no term at all. */
  readonly termWithReason: boolean;
  settled(): void;
}

/** JetStream's acknowledgement bodies, sent to a message's reply subject. */
export const AckKind = {
  ack: '+ACK',
  nak: '-NAK',
  working: '+WPI',
  term: '+TERM',
} as const;

const NO_HEADERS: Readonly<Record<string, string>> = Object.freeze({});

/**
 * One JetStream message handed to a subscriber. It settles once: ack, nak(delay), or a dead letter
 * made durable first and only then terminated.
 */
export class NatsDelivery implements Delivery {
  readonly event: CloudEvent | undefined = undefined;
  private done = false;
  private hdrs: Readonly<Record<string, string>> | undefined;

  constructor(
    private readonly owner: DeliveryOwner,
    private readonly msg: Msg,
    readonly type: string,
    readonly attempt: number,
    readonly seq: number,
  ) {}

  get subject(): string {
    return this.msg.subject;
  }

  get body(): Uint8Array {
    return this.msg.data;
  }

  get headers(): Readonly<Record<string, string>> {
    return (this.hdrs ??= readHeaders(this.msg));
  }

  ack(): void {
    if (this.settle()) this.msg.respond(AckKind.ack);
  }

  nak(delayMs: number): void {
    if (!this.settle()) return;
    const ms = Math.max(0, Math.round(delayMs));
    this.msg.respond(ms === 0 ? AckKind.nak : `${AckKind.nak} {"delay":${nanos(ms)}}`);
  }

  working(): void {
    if (!this.done) this.msg.respond(AckKind.working);
  }

  async deadLetter(draft: DeadLetterDraft): Promise<void> {
    if (this.done) return;
    await this.owner.writeDeadLetter(draft, this.msg.subject, this.seq);
    if (!this.settle()) return;
    this.msg.respond(this.owner.termWithReason ? `${AckKind.term} bulwark: ${draft.reason}` : AckKind.term);
  }

  private settle(): boolean {
    if (this.done) return false;
    this.done = true;
    this.owner.settled();
    return true;
  }
}

function readHeaders(msg: Msg): Readonly<Record<string, string>> {
  const h = msg.headers;
  if (!h) return NO_HEADERS;
  const out: Record<string, string> = {};
  for (const key of h.keys()) out[key] = h.get(key);
  return out;
}
