import {
  createInbox,
  headers as natsHeaders,
  type Msg,
  type NatsConnection,
  type Subscription,
} from '@nats-io/transport-node';
import { TransportError } from '../../../errors.js';

/** What the stream said of a stored message. */
export interface StoredAck {
  readonly seq: number;
  readonly duplicate: boolean;
}

/** JetStream answered and refused the message (a wrong subject, a failed expectation): retrying won't help. */
export class JetStreamRefusedError extends TransportError {
  constructor(message: string) {
    super(message);
    this.name = 'JetStreamRefusedError';
  }
}

interface Waiting {
  readonly resolve: (ack: StoredAck) => void;
  readonly reject: (err: Error) => void;
  readonly at: number;
}

const decoder = new TextDecoder();

/**
 * Publishes to JetStream and resolves each message on its PubAck, many in flight over one reply
 * subscription. `js.publish` builds two error objects with stack traces per call for its timeout;
 * here one timer sweeps the late ones.
 * @example
 * const pub = new PubAckPublisher(nc, 5_000);
 * const { seq, duplicate } = await pub.publish('bulwark.events.user.created', bytes, { 'Nats-Msg-Id': id });
 */
export class PubAckPublisher {
  private readonly inbox = createInbox();
  private readonly sub: Subscription;
  private readonly waiting = new Map<number, Waiting>();
  private next = 0;
  private sweeper: NodeJS.Timeout | undefined;
  private closing = false;
  private closed = false;

  constructor(
    private readonly nc: NatsConnection,
    private readonly timeoutMs: number,
  ) {
    this.sub = nc.subscribe(`${this.inbox}.*`, { callback: (_err, msg) => this.receive(msg) });
  }

  /**
   * @param headers - NATS headers; `Nats-Msg-Id` makes the stream deduplicate
   * @returns the stream sequence, and whether the stream already held a message with that id
   * @throws {JetStreamRefusedError} when JetStream refuses the message
   * @throws {TransportError} when no stream answers (status 503) or none answers in time
   */
  publish(subject: string, data: Uint8Array, headers?: Readonly<Record<string, string>>): Promise<StoredAck> {
    const n = ++this.next;
    let h: ReturnType<typeof natsHeaders> | undefined;
    if (headers) {
      h = natsHeaders();
      for (const key in headers) h.set(key, headers[key]!);
    }
    return new Promise<StoredAck>((resolve, reject) => {
      this.waiting.set(n, { resolve, reject, at: Date.now() });
      if (!this.sweeper) {
        this.sweeper = setInterval(() => this.sweep(), Math.max(50, this.timeoutMs / 4));
        this.sweeper.unref();
      }
      try {
        this.nc.publish(subject, data, { reply: `${this.inbox}.${n}`, ...(h && { headers: h }) });
      } catch (err) {
        this.settle(n)?.reject(new TransportError(`could not publish to ${subject}`, { cause: err }));
      }
    });
  }

  private receive(msg: Msg): void {
    const w = this.settle(Number(msg.subject.slice(this.inbox.length + 1)));
    if (!w) return;
    const code = msg.headers?.code ?? 0;
    if (code >= 300)
      return w.reject(new TransportError(`JetStream did not store the message (status ${code})`));
    try {
      const ack = JSON.parse(decoder.decode(msg.data)) as {
        seq?: number;
        duplicate?: boolean;
        error?: { description?: string };
      };
      if (ack.error)
        w.reject(new JetStreamRefusedError(`JetStream refused the message: ${ack.error.description ?? ''}`));
      else w.resolve({ seq: ack.seq ?? 0, duplicate: ack.duplicate === true });
    } catch (err) {
      w.reject(new TransportError('unreadable PubAck', { cause: err }));
    }
  }

  private settle(n: number): Waiting | undefined {
    const w = this.waiting.get(n);
    if (!w) return undefined;
    this.waiting.delete(n);
    if (this.waiting.size === 0) {
      this.stopSweeping();
      if (this.closing) this.unsubscribe();
    }
    return w;
  }

  private sweep(): void {
    const late = Date.now() - this.timeoutMs;
    for (const [n, w] of this.waiting) {
      if (w.at > late) break; // insertion order is publish order
      this.settle(n)?.reject(new TransportError(`no PubAck within ${this.timeoutMs} ms`));
    }
  }

  private stopSweeping(): void {
    clearInterval(this.sweeper);
    this.sweeper = undefined;
  }

  /** Stops listening once what is in flight is answered (or late). Idempotent. */
  close(): void {
    this.closing = true;
    if (this.waiting.size === 0) this.unsubscribe();
  }

  private unsubscribe(): void {
    if (this.closed) return;
    this.closed = true;
    this.sub.unsubscribe();
  }
}
