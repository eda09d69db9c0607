import type { Clock } from '../../time/clock.js';
import type { DeadLetterDraft } from '../dead-letters.js';
import type { Delivery, DeliverySink } from '../transport.js';
import type { MemoryDeadLetterStore } from './dead-letters.js';
import { Competition, type Competitor } from './toolkit/competition.js';
import type { ConsumerSource } from './cursors.js';
import type { StoredMessage } from './type-log.js';

/** One subscriber instance attached to a consumer. */
export interface Member extends Competitor {
  readonly sink: DeliverySink;
}

interface Redelivery {
  readonly msg: StoredMessage;
  readonly attempt: number;
}

/** What a consumer needs from its transport. */
export interface ConsumerHost {
  readonly clock: Clock;
  readonly deadLetters: MemoryDeadLetterStore;
  readonly timers: Set<unknown>;
  subject(type: string): string;
}

/**
 * A group's (or a broadcast instance's) consumer: a source (one type's log, or every log a pattern
 * matches) with its redeliveries. Members compete for messages round-robin, each up to its
 * capacity: JetStream's pull consumer shared by the instances of a group, in memory.
 */
export class MemoryConsumer {
  private readonly competition = new Competition<Member>((member) => this.deliverNext(member));
  private readonly ready: Redelivery[] = [];
  private readyHead = 0;

  /**
   * @param type - the event type or pattern it reads
   * @param label - who reads, for people (`group "mailer"`)
   */
  constructor(
    readonly type: string,
    readonly source: ConsumerSource,
    readonly host: ConsumerHost,
    readonly label: string,
  ) {}

  /** Stops reading: the streams no longer wait for this consumer. */
  close(): void {
    this.source.close();
  }

  /** The subscriber instances attached. */
  get members(): readonly Member[] {
    return this.competition.members;
  }

  attach(member: Member): void {
    this.competition.join(member);
  }

  detach(member: Member): void {
    this.competition.leave(member);
  }

  /** Coalesces wake-ups: one pump per microtask, however many publishes and acks. */
  schedule(): void {
    this.competition.schedule();
  }

  private deliverNext(member: Member): boolean {
    let msg: StoredMessage | undefined;
    let attempt = 1;
    if (this.readyHead < this.ready.length) {
      const r = this.ready[this.readyHead]!;
      this.ready[this.readyHead++] = undefined as never;
      if (this.readyHead === this.ready.length) this.ready.length = this.readyHead = 0;
      msg = r.msg;
      attempt = r.attempt;
    } else {
      msg = this.source.take();
      if (!msg) return false;
    }
    member.inFlight++;
    member.sink.deliver(new MemoryDelivery(this, member, msg, attempt));
    return true;
  }

  /** Puts a message back for delivery `attempt` after `delayMs`. */
  redeliver(msg: StoredMessage, attempt: number, delayMs: number): void {
    if (delayMs <= 0) {
      this.ready.push({ msg, attempt });
      this.schedule();
      return;
    }
    const timers = this.host.timers;
    const handle = this.host.clock.setTimeout(() => {
      timers.delete(handle);
      this.ready.push({ msg, attempt });
      this.schedule();
    }, delayMs);
    timers.add(handle);
  }

  /** Messages not yet delivered to anyone (backlog), for health and the dashboard. */
  get backlog(): number {
    return this.source.backlog + (this.ready.length - this.readyHead);
  }
}

/** One delivery; settling it twice is a no-op. */
class MemoryDelivery implements Delivery {
  private settled = false;
  private holds = 0;

  constructor(
    private readonly consumer: MemoryConsumer,
    private readonly member: Member,
    private readonly msg: StoredMessage,
    readonly attempt: number,
  ) {}

  get type(): string {
    return this.msg.type;
  }
  get subject(): string {
    return this.consumer.host.subject(this.msg.type);
  }
  get seq(): number {
    return this.msg.seq;
  }
  get msgId(): string | undefined {
    return this.msg.msgId ?? this.msg.event?.id;
  }
  get headers(): Readonly<Record<string, string>> {
    return this.msg.headers;
  }
  header(name: string): string | undefined {
    return this.msg.headers[name];
  }
  get event() {
    return this.msg.event;
  }
  get body() {
    return this.msg.body;
  }

  ack(): void {
    this.settle();
  }

  nak(delayMs: number): void {
    if (!this.settle()) return;
    this.consumer.redeliver(this.msg, this.attempt + 1, delayMs);
  }

  working(): void {
    // The memory transport has no ack deadline to extend.
  }

  async deadLetter(draft: DeadLetterDraft): Promise<void> {
    if (this.settled) return;
    const host = this.consumer.host;
    host.deadLetters.add(draft, this.subject, this.msg.seq, host.clock.now());
    this.settle();
  }

  hold(): () => void {
    this.holds++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (--this.holds === 0 && this.settled) this.free();
    };
  }

  private settle(): boolean {
    if (this.settled) return false;
    this.settled = true;
    if (this.holds === 0) this.free();
    return true;
  }

  /** Gives the member its slot back. */
  private free(): void {
    this.member.inFlight--;
    this.consumer.schedule();
  }
}
