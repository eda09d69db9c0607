import {
  createInbox,
  type Msg,
  type MsgHdrs,
  type NatsConnection,
  type Subscription,
} from '@nats-io/transport-node';
import { NoRespondersError, TimeoutError, TransportError } from '../../../errors.js';

interface Waiting {
  readonly resolve: (msg: Msg) => void;
  readonly reject: (err: Error) => void;
  readonly timer: NodeJS.Timeout;
  readonly endpoint: string;
}

/** The status NATS sends to a request's reply subject when nobody listens on its subject. */
const NO_RESPONDERS = 503;

/**
 * Many requests in flight over one reply subscription per connection, each with its own timer.
 * `nc.request` builds two error objects with stack traces per call (for a timeout and a failure
 * that mostly never happen); here a request costs a map entry and a timer.
 * @example
 * const mux = new RequestMux(nc);
 * const reply = await mux.request('shop.rpc.orders.get', body, headers, 2_000, 'orders.get');
 */
export class RequestMux {
  private readonly inbox = createInbox();
  private sub: Subscription | undefined;
  private readonly waiting = new Map<number, Waiting>();
  private next = 0;

  constructor(private readonly nc: NatsConnection) {}

  /**
   * @throws {NoRespondersError} when nobody listens on `subject`
   * @throws {TimeoutError} when no reply came within `timeoutMs`
   * @throws {TransportError} when the request could not be sent, or the connection closed first
   */
  request(
    subject: string,
    body: Uint8Array | string,
    headers: MsgHdrs,
    timeoutMs: number,
    endpoint: string,
  ): Promise<Msg> {
    this.sub ??= this.listen();
    const n = ++this.next;
    return new Promise<Msg>((resolve, reject) => {
      const timer = setTimeout(() => this.settle(n)?.reject(new TimeoutError(timeoutMs)), timeoutMs);
      this.waiting.set(n, { resolve, reject, timer, endpoint });
      try {
        this.nc.publish(subject, body, { reply: `${this.inbox}.${n}`, headers });
      } catch (err) {
        this.settle(n)?.reject(new TransportError(`could not send a request to ${subject}`, { cause: err }));
      }
    });
  }

  private listen(): Subscription {
    const sub = this.nc.subscribe(`${this.inbox}.*`, { callback: (_err, msg) => this.receive(msg) });
    void sub.closed.then(() => {
      this.sub = undefined;
      for (const n of [...this.waiting.keys()])
        this.settle(n)?.reject(new TransportError('the connection closed before the reply came'));
    });
    return sub;
  }

  private receive(msg: Msg): void {
    const w = this.settle(Number(msg.subject.slice(this.inbox.length + 1)));
    if (!w) return;
    if (msg.data.length === 0 && msg.headers?.code === NO_RESPONDERS)
      w.reject(new NoRespondersError(w.endpoint));
    else w.resolve(msg);
  }

  private settle(n: number): Waiting | undefined {
    const w = this.waiting.get(n);
    if (!w) return undefined;
    this.waiting.delete(n);
    clearTimeout(w.timer);
    return w;
  }
}
