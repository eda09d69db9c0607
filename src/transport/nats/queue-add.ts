import {
  createInbox,
  headers,
  type Msg,
  type NatsConnection,
  type Subscription,
} from '@nats-io/transport-node';
import { TransportError } from '../../errors.js';

interface Waiting {
  readonly resolve: (duplicate: boolean) => void;
  readonly reject: (err: Error) => void;
  readonly at: number;
}

const decoder = new TextDecoder();

/**
 * Publishes job records to JetStream and resolves each on its PubAck, many in flight over one
 * reply subscription. `js.publish` builds two error objects (with stack traces) per call for its
 * timeout, more than half the cost of an add; here one timer sweeps the late ones.
 * @example
 * const adder = new QueueAdder(nc, 5_000);
 * const duplicate = await adder.publish('bulwark.q.emails.j1.normal', bytes, 'add:j1');
 */
export class QueueAdder {
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
   * @param msgID - the dedup key, when the stream must deduplicate
   * @returns whether the stream already held a message with `msgID`
   * @throws {TransportError} when the server refuses the message or does not answer in time
   */
  publish(subject: string, data: Uint8Array, msgID?: string): Promise<boolean> {
    const n = ++this.next;
    const h = msgID === undefined ? undefined : headers();
    h?.set('Nats-Msg-Id', msgID!);
    return new Promise<boolean>((resolve, reject) => {
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
    const n = Number(msg.subject.slice(this.inbox.length + 1));
    const w = this.settle(n);
    if (!w) return;
    const code = msg.headers?.code ?? 0;
    if (code >= 300) return w.reject(new TransportError(`JetStream did not store the job (status ${code})`));
    try {
      const ack = JSON.parse(decoder.decode(msg.data)) as {
        duplicate?: boolean;
        error?: { description?: string };
      };
      if (ack.error)
        w.reject(new TransportError(`JetStream refused the job: ${ack.error.description ?? ''}`));
      else w.resolve(ack.duplicate === true);
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
