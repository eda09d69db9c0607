import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import { createInbox, nanos } from '@nats-io/transport-node';
import { sleep } from '../../../time/sleep.js';
import { ACK_PREFIX, parseAckSubject } from './ack.js';

/** What the pull tells its consumer. */
export interface PullHandlers {
  /**
   * A JetStream message for this consumer, handed over synchronously as the connection reads it.
   * @param delivered - the server's delivery count (1 on first delivery)
   * @param pending - messages the consumer still held for delivery right after this one
   */
  message(msg: Msg, delivered: number, seq: number, pending: number): void;
  /**
   * Requests go unanswered: the server answered "no responders", or heartbeats stopped (a
   * reconnect, a restarted server). The consumer decides whether to check its consumer or
   * {@link Pull.reset}.
   */
  suspect(reason: PullSuspicion): void;
  /** The server deleted the consumer. */
  deleted(): void;
}

/** Why a pull looks dead. */
export type PullSuspicion = 'no-responders' | 'heartbeats-missed';

/** Timing of pull requests. */
export interface PullTiming {
  /** A pull request lives this long on the server. */
  readonly expiresMs: number;
  /** The server sends a heartbeat this often while a request waits; two missed ones raise `suspect`. */
  readonly heartbeatMs: number;
}

/** What a {@link Pull} reads and how it asks. */
export interface PullOptions {
  readonly nc: NatsConnection;
  /** `$JS.API`, or `$JS.<domain>.API`. */
  readonly apiPrefix: string;
  readonly stream: string;
  readonly consumer: string;
  /** How many messages the consumer can take now, not counting what is already requested. */
  readonly room: () => number;
  /** The smallest request worth sending while another is still outstanding. */
  readonly minBatch: () => number;
  readonly timing: PullTiming;
  readonly handlers: PullHandlers;
}

const STATUS = { heartbeat: 100, noMessages: 404, timeout: 408, conflict: 409, noResponders: 503 } as const;
const PENDING_HEADER = 'Nats-Pending-Messages';

/**
 * A long-lived pull on one JetStream consumer, over a plain subscription. It never asks for more
 * than the consumer has room for, so every message that arrives can be handed out at once and
 * stopping leaves nothing in flight to be redelivered only after the ack wait. Requests come in
 * batches (each costs the server a pending count over the consumer's subjects): a new one only
 * once `minBatch()` is free, or when nothing is requested.
 */
export class Pull {
  private readonly inbox = createInbox();
  private readonly sub: Subscription;
  private readonly timer: NodeJS.Timeout;
  private readonly subject: string;
  private requested = 0;
  private lastHeard = Date.now();
  private stopped = false;

  constructor(private readonly o: PullOptions) {
    this.subject = `${o.apiPrefix}.CONSUMER.MSG.NEXT.${o.stream}.${o.consumer}`;
    this.sub = o.nc.subscribe(this.inbox, { callback: (_err, msg) => this.receive(msg) });
    this.timer = setInterval(() => this.watchdog(), o.timing.heartbeatMs);
    this.timer.unref();
  }

  /** Asks for what the room leaves free, unless that is less than a batch while a request is out. */
  pull(): void {
    if (this.stopped) return;
    const want = this.o.room() - this.requested;
    if (want <= 0) return;
    if (this.requested > 0 && want < this.o.minBatch()) return;
    this.requested += want;
    const t = this.o.timing;
    const body = `{"batch":${want},"expires":${nanos(t.expiresMs)},"idle_heartbeat":${nanos(t.heartbeatMs)}}`;
    this.o.nc.publish(this.subject, body, { reply: this.inbox });
  }

  /** Forgets outstanding requests (they died with a connection or a server) and pulls afresh. */
  reset(): void {
    this.requested = 0;
    this.lastHeard = Date.now();
    this.pull();
  }

  private receive(msg: Msg): void {
    this.lastHeard = Date.now();
    const reply = msg.reply;
    if (reply !== undefined && reply.startsWith(ACK_PREFIX)) {
      if (this.requested > 0) this.requested--;
      const [delivered, seq, pending] = parseAckSubject(reply);
      this.o.handlers.message(msg, delivered, seq, pending);
      return;
    }
    const { outcome, requested } = readPullStatus(msg, this.requested);
    this.requested = requested;
    if (outcome === 'expired') return this.pull();
    if (outcome === 'deleted') return this.o.handlers.deleted();
    // A refused request (MaxWaiting, MaxRequestBatch and the like) is gone: the watchdog asks again.
    if (outcome === 'no-responders') this.o.handlers.suspect('no-responders');
  }

  private watchdog(): void {
    if (this.stopped) return;
    // Nothing requested though there may be room (a refused request): ask again.
    if (this.requested === 0) return this.pull();
    if (Date.now() - this.lastHeard < 2 * this.o.timing.heartbeatMs) return;
    this.lastHeard = Date.now();
    this.o.handlers.suspect('heartbeats-missed');
  }

  /**
   * Stops asking, and drains: the server drops the inbox first (and with it the requests still
   * open), and every message it sent before that still arrives and is handed out. Flushing first
   * and then unsubscribing lost what the server sent in between (jobs added as the pull ended),
   * until the ack wait. The drain waits for one round trip; a connection that does not answer
   * within the request expiry (reconnecting, say) is not waited for. Idempotent.
   */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.timer);
    if (this.o.nc.isClosed() || this.sub.isClosed()) return;
    const drained = this.sub.drain().catch(() => undefined);
    await Promise.race([drained, sleep(this.o.timing.expiresMs)]);
    if (!this.sub.isClosed()) this.sub.unsubscribe();
  }
}

/** What a status message on a pull inbox means for the pull that made the request. */
export type PullOutcome = 'heartbeat' | 'expired' | 'deleted' | 'refused' | 'no-responders';

/**
 * Reads a pull request's status message (heartbeat, expired or empty request, refused request,
 * deleted consumer, no responders) and how many requested messages are still to come.
 */
export function readPullStatus(msg: Msg, requested: number): { outcome: PullOutcome; requested: number } {
  const h = msg.headers;
  const code = h?.code ?? 0;
  if (code === STATUS.heartbeat) return { outcome: 'heartbeat', requested };
  if (code === STATUS.timeout || code === STATUS.noMessages) {
    const left = Number(h?.get(PENDING_HEADER));
    const still = Number.isFinite(left) && left > 0 ? Math.max(0, requested - left) : 0;
    return { outcome: 'expired', requested: still };
  }
  if (code === STATUS.conflict && /consumer deleted/i.test(h?.description ?? ''))
    return { outcome: 'deleted', requested: 0 };
  if (code === STATUS.noResponders) return { outcome: 'no-responders', requested: 0 };
  return { outcome: 'refused', requested: 0 };
}
