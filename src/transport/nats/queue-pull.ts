import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import { createInbox, nanos } from '@nats-io/transport-node';
import type { Logger } from '../../logging.js';
import { parseAckSubject, readPullStatus } from './pull-loop.js';
import { HANDBACK_DELAY_MS, pendingOf, QueueMsg } from './queue-msg.js';

/** A pull request lives this long on the server; the heartbeat shows it is still there. */
const EXPIRES_MS = HANDBACK_DELAY_MS - 250;
const HEARTBEAT_MS = 1_000;

/** What a {@link QueuePull} needs. */
export interface QueuePullOptions {
  readonly nc: NatsConnection;
  /** `$JS.API`, or `$JS.<domain>.API`. */
  readonly apiPrefix: string;
  readonly stream: string;
  readonly consumer: string;
  /** How many messages this consumer may hold now, fetched but not handed on, plus requested. */
  readonly target: () => number;
  /** How many it holds (fetched, not yet handed on). */
  readonly held: () => number;
  readonly logger: Logger;
  readonly receive: (m: QueueMsg) => void;
}

/**
 * A long-lived pull on one queue consumer, delivering {@link QueueMsg}s synchronously as the
 * connection reads them. Every pull request costs the server a pending count over the queue's
 * subjects (hundreds of µs on a big queue), so requests come in batches: a new one only once a
 * quarter of the target is free, or when nothing is held or requested.
 */
export class QueuePull {
  private readonly inbox = createInbox();
  private readonly sub: Subscription;
  private readonly timer: NodeJS.Timeout;
  private readonly subject: string;
  private requested = 0;
  private lastHeard = Date.now();
  private stopped = false;

  constructor(private readonly o: QueuePullOptions) {
    this.subject = `${o.apiPrefix}.CONSUMER.MSG.NEXT.${o.stream}.${o.consumer}`;
    this.sub = o.nc.subscribe(this.inbox, { callback: (_err, msg) => this.receive(msg) });
    this.timer = setInterval(() => this.watchdog(), HEARTBEAT_MS);
    this.timer.unref();
  }

  /** Asks for what the target leaves room for, in batches of at least a quarter of it. */
  pull(): void {
    if (this.stopped) return;
    const target = this.o.target();
    const want = target - this.o.held() - this.requested;
    if (want <= 0) return;
    if (this.requested > 0 && want < Math.max(1, target >> 2)) return;
    this.requested += want;
    const body = `{"batch":${want},"expires":${nanos(EXPIRES_MS)},"idle_heartbeat":${nanos(HEARTBEAT_MS)}}`;
    this.o.nc.publish(this.subject, body, { reply: this.inbox });
  }

  private receive(msg: Msg): void {
    this.lastHeard = Date.now();
    const reply = msg.reply;
    if (reply !== undefined && reply.startsWith('$JS.ACK.')) {
      if (this.requested > 0) this.requested--;
      const [delivered, seq] = parseAckSubject(reply);
      this.o.receive(new QueueMsg(msg, delivered, seq, pendingOf(reply)));
      return;
    }
    this.status(msg);
  }

  private status(msg: Msg): void {
    const { outcome, requested } = readPullStatus(msg, this.requested);
    this.requested = requested;
    if (outcome === 'expired') return this.pull();
    // A refused request or no responders: that request is gone; the watchdog asks again soon.
    if (outcome === 'deleted') this.o.logger.warn({ consumer: this.o.consumer }, 'queue consumer deleted');
  }

  private watchdog(): void {
    if (this.stopped) return;
    if (this.requested === 0) return this.pull();
    if (Date.now() - this.lastHeard < 2 * HEARTBEAT_MS) return;
    // Heartbeats missed: the requests died (a reconnect, a restarted server); ask afresh.
    this.o.logger.debug({ consumer: this.o.consumer }, 'queue pulls unanswered; pulling afresh');
    this.lastHeard = Date.now();
    this.requested = 0;
    this.pull();
  }

  /** Stops asking; waits one round trip so that messages already sent arrive first. Idempotent. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.timer);
    if (!this.o.nc.isClosed()) await this.o.nc.flush().catch(() => undefined);
    this.sub.unsubscribe();
  }
}
