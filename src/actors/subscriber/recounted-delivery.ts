import type { DeadLetterDraft } from '../../transport/dead-letters.js';
import type { Delivery } from '../../transport/transport.js';

/**
 * A delivery as its subscription counts tries: `notTries` of the broker's rounds were not tries of
 * the handler (it was sent back while another run held its idempotency key), so retries, backoff,
 * dead letters and `meta.attempt` see `attempt` less those.
 */
export class RecountedDelivery implements Delivery {
  readonly attempt: number;

  constructor(
    private readonly delivery: Delivery,
    notTries: number,
  ) {
    this.attempt = Math.max(1, delivery.attempt - notTries);
  }

  get type(): string {
    return this.delivery.type;
  }
  get subject(): string {
    return this.delivery.subject;
  }
  get seq(): number | undefined {
    return this.delivery.seq;
  }
  get msgId(): string | undefined {
    return this.delivery.msgId;
  }
  get headers(): Readonly<Record<string, string>> {
    return this.delivery.headers;
  }
  get event() {
    return this.delivery.event;
  }
  get body() {
    return this.delivery.body;
  }
  header(name: string): string | undefined {
    return this.delivery.header(name);
  }
  ack(): void {
    this.delivery.ack();
  }
  nak(delayMs: number): void {
    this.delivery.nak(delayMs);
  }
  working(): void {
    this.delivery.working();
  }
  deadLetter(draft: DeadLetterDraft): Promise<void> {
    return this.delivery.deadLetter(draft);
  }
  hold(): () => void {
    return this.delivery.hold();
  }
}
