import type { Msg } from '@nats-io/transport-node';
import type { CloudEvent } from '../../events/cloudevent.js';
import type { DeadLetterDraft } from '../dead-letters.js';
import type { Delivery } from '../transport.js';
import { ack, nak, term, working } from './toolkit/ack.js';
import { mayHaveHeader, readHeaders } from './toolkit/header-block.js';
import { WireHeader } from './toolkit/wire.js';

/** What a delivery needs from the consumer that handed it out. */
export interface DeliveryOwner {
  /** Stores a dead letter; resolves on the dead-letter stream's PubAck. */
  writeDeadLetter(draft: DeadLetterDraft, subject: string, seq: number): Promise<void>;
  /** Servers before 2.10 treat `term(reason)` as no term at all. */
  readonly termWithReason: boolean;
  /** The delivery settled and its slot is free. */
  settled(delivery: NatsDelivery): void;
  /** The delivery settled on the wire, but a hold keeps its slot taken. */
  acked(delivery: NatsDelivery): void;
}

/**
 * One JetStream message handed to a subscriber. It settles once: ack, nak(delay), or a dead letter
 * made durable first and only then terminated.
 */
export class NatsDelivery implements Delivery {
  readonly event: CloudEvent | undefined = undefined;
  /** When it was handed out (epoch ms), for the consumer's heartbeat. */
  readonly since = Date.now();
  private done = false;
  private holds = 0;
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

  get msgId(): string | undefined {
    return this.header(WireHeader.msgId);
  }

  get body(): Uint8Array {
    return this.msg.data;
  }

  get headers(): Readonly<Record<string, string>> {
    return (this.hdrs ??= readHeaders(this.msg));
  }

  header(name: string): string | undefined {
    if (this.hdrs === undefined && !mayHaveHeader(this.msg, name)) return undefined;
    return this.headers[name];
  }

  ack(): void {
    if (this.settle()) ack(this.msg);
  }

  nak(delayMs: number): void {
    if (this.settle()) nak(this.msg, delayMs);
  }

  working(): void {
    if (!this.done) working(this.msg);
  }

  async deadLetter(draft: DeadLetterDraft): Promise<void> {
    if (this.done) return;
    await this.owner.writeDeadLetter(draft, this.msg.subject, this.seq);
    if (!this.settle()) return;
    term(this.msg, this.owner.termWithReason ? `bulwark: ${draft.reason}` : undefined);
  }

  hold(): () => void {
    this.holds++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (--this.holds === 0 && this.done) this.owner.settled(this);
    };
  }

  private settle(): boolean {
    if (this.done) return false;
    this.done = true;
    if (this.holds === 0) this.owner.settled(this);
    else this.owner.acked(this);
    return true;
  }
}
