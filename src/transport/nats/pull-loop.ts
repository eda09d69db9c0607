import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import { createInbox, nanos } from '@nats-io/transport-node';

/** What the loop tells its consumer. */
export interface PullLoopHandlers {
  /** A JetStream message for this consumer; `attempt` is the server's delivery count. */
  message(msg: Msg, attempt: number, seq: number): void;
  /** Pulls go unanswered (no heartbeats, no responders): the consumer should check its consumer. */
  suspect(reason: string): void;
  /** The server deleted the consumer. */
  deleted(): void;
}

/** Timing of pull requests. */
export interface PullTiming {
  /** A pull request lives this long on the server. */
  readonly expiresMs: number;
  /** The server sends a heartbeat this often while a request waits; two missed ones raise `suspect`. */
  readonly heartbeatMs: number;
}

const STATUS = { heartbeat: 100, noMessages: 404, timeout: 408, conflict: 409, noResponders: 503 } as const;
const PENDING_HEADER = 'Nats-Pending-Messages';
const ACK_PREFIX = '$JS.ACK.';

/**
 * A pull consumer's request loop on a plain subscription. It never asks for more messages than the
 * consumer has room for (`room()` minus what is already requested), so every message that arrives
 * can be handed out at once and nothing waits in a client buffer, and stopping leaves nothing in
 * flight to be redelivered only after `ack_wait`.
 */
export class PullLoop {
  private readonly inbox = createInbox();
  private readonly sub: Subscription;
  private readonly timer: NodeJS.Timeout;
  private readonly minPull: number;
  private requested = 0;
  private lastHeard = Date.now();
  private stopped = false;

  constructor(
    private readonly nc: NatsConnection,
    private readonly nextSubject: string,
    private readonly room: () => number,
    capacity: number,
    private readonly timing: PullTiming,
    private readonly handlers: PullLoopHandlers,
  ) {
    this.minPull = Math.max(1, Math.floor(capacity / 4));
    this.sub = nc.subscribe(this.inbox, { callback: (_err, msg) => this.receive(msg) });
    this.timer = setInterval(() => this.watchdog(), timing.heartbeatMs);
    this.timer.unref();
  }

  /** Asks for as many messages as there is room for, in requests of at least a quarter of the room. */
  pull(): void {
    if (this.stopped) return;
    const want = this.room() - this.requested;
    if (want <= 0) return;
    if (this.requested > 0 && want < this.minPull) return;
    this.requested += want;
    const t = this.timing;
    const body = `{"batch":${want},"expires":${nanos(t.expiresMs)},"idle_heartbeat":${nanos(t.heartbeatMs)}}`;
    this.nc.publish(this.nextSubject, body, { reply: this.inbox });
  }

  /** Forgets outstanding requests (after a reconnect they died with the old connection) and pulls afresh. */
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
      const [attempt, seq] = parseAckSubject(reply);
      this.handlers.message(msg, attempt, seq);
      return;
    }
    this.status(msg);
  }

  private status(msg: Msg): void {
    const { outcome, requested } = readPullStatus(msg, this.requested);
    this.requested = requested;
    if (outcome === 'expired') return this.pull();
    if (outcome === 'deleted') return this.handlers.deleted();
    // A refused request (MaxWaiting, MaxRequestBatch and the like) is gone: the watchdog asks again.
    if (outcome === 'no-responders') this.handlers.suspect('no responders');
  }

  private watchdog(): void {
    if (this.stopped) return;
    // Nothing requested though there may be room (a refused request): ask again.
    if (this.requested === 0) return this.pull();
    if (Date.now() - this.lastHeard < 2 * this.timing.heartbeatMs) return;
    this.lastHeard = Date.now();
    this.handlers.suspect('heartbeats missed');
  }

  /**
   * Stops asking; waits one round trip so that messages the server already sent arrive (and are
   * handed out) before the subscription goes; then the server drops the remaining requests.
   */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.timer);
    if (!this.nc.isClosed()) await this.nc.flush().catch(() => undefined);
    this.sub.unsubscribe();
  }
}

/** What a status message on a pull inbox means for the loop that made the request. */
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

/**
 * Delivery count and stream sequence from a JetStream ack subject, either
 * `$JS.ACK.<stream>.<consumer>.<count>.<sseq>.<dseq>.<ts>.<pending>` or the form with
 * `<domain>.<account hash>` after `ACK` and a trailing token.
 */
export function parseAckSubject(reply: string): [attempt: number, seq: number] {
  let dots = 0;
  for (let i = reply.indexOf('.'); i >= 0; i = reply.indexOf('.', i + 1)) dots++;
  // 9 tokens (8 dots): count is the 5th token; the longer form puts it 2 tokens later.
  const at = dots === 8 ? 4 : 6;
  let start = 0;
  for (let k = 0; k < at; k++) start = reply.indexOf('.', start) + 1;
  const mid = reply.indexOf('.', start);
  const end = reply.indexOf('.', mid + 1);
  return [Number(reply.slice(start, mid)), Number(reply.slice(mid + 1, end))];
}
