import type { JsMsg } from '@nats-io/jetstream';
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

const NO_HEADERS: Readonly<Record<string, string>> = Object.freeze({});

/**
 * One JetStream message handed to a subscriber. It settles once: ack, nak(delay), or a dead letter
 * made durable first and only then `term()`.
 */
export class NatsDelivery implements Delivery {
  readonly attempt: number;
  readonly seq: number;
  readonly event: CloudEvent | undefined = undefined;
  private done = false;
  private hdrs: Readonly<Record<string, string>> | undefined;

  constructor(
    private readonly owner: DeliveryOwner,
    private readonly msg: JsMsg,
    readonly type: string,
  ) {
    const info = msg.info;
    this.attempt = info.deliveryCount;
    this.seq = info.streamSequence;
  }

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
    if (this.settle()) this.msg.ack();
  }

  nak(delayMs: number): void {
    if (this.settle()) this.msg.nak(Math.max(0, Math.round(delayMs)));
  }

  working(): void {
    if (!this.done) this.msg.working();
  }

  async deadLetter(draft: DeadLetterDraft): Promise<void> {
    if (this.done) return;
    await this.owner.writeDeadLetter(draft, this.msg.subject, this.seq);
    if (!this.settle()) return;
    if (this.owner.termWithReason) this.msg.term(`bulwark: ${draft.reason}`);
    else this.msg.term();
  }

  private settle(): boolean {
    if (this.done) return false;
    this.done = true;
    this.owner.settled();
    return true;
  }
}

function readHeaders(msg: JsMsg): Readonly<Record<string, string>> {
  const h = msg.headers;
  if (!h) return NO_HEADERS;
  const out: Record<string, string> = {};
  for (const key of h.keys()) out[key] = h.get(key);
  return out;
}
