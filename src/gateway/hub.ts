import type { Logger } from '../logging.js';
import type { Connection } from './connection.js';
import type { DisconnectReason, GatewayStats } from './types.js';

export type { GatewayStats };
import type { GatewayEvent } from './frames.js';
import type { ResolvedGatewayOptions } from './options.js';
import { EventRing } from './ring.js';
import { PatternSet } from './scope.js';

/** Where the hub reads stored events older than its ring. */
export type HistoryReader = (
  patterns: readonly string[],
  afterSeq: number,
  signal: AbortSignal,
) => AsyncIterable<GatewayEvent>;

/** One connected client: its socket, claims, patterns and where it is in the sequence. */
export class Client {
  patterns: PatternSet | undefined;
  state: 'new' | 'catching-up' | 'live' | 'gone' = 'new';
  /** Live arrivals while catching up, sent once the catch-up reaches them. */
  pending: GatewayEvent[] = [];
  /** The highest seq sent while catching up: live events at or below it were sent already. */
  floor = -1;
  readonly abort = new AbortController();

  constructor(
    readonly conn: Connection,
    readonly claims: unknown,
  ) {}

  /** True once its socket closed or the gateway disconnected it. */
  get gone(): boolean {
    return this.state === 'gone';
  }
}

/**
 * The gateway's fan-out: every event from the broker goes into the ring and to each live client
 * whose patterns match it and whose filter shows it; a client that reconnects with `from` is sent
 * what it missed first (history, then the ring, then what arrived meanwhile), in sequence order.
 */
export class GatewayHub {
  private readonly clients = new Set<Client>();
  private readonly ring: EventRing;
  private readonly heart: NodeJS.Timeout;
  private readonly counts = { received: 0, sent: 0 };
  private readonly kicked: Record<DisconnectReason, number> = { slow: 0, heartbeat: 0, closing: 0 };
  readonly refused = { unauthorized: 0, full: 0, invalid: 0 };
  private closed = false;

  constructor(
    private readonly o: ResolvedGatewayOptions,
    private readonly history: HistoryReader,
    private readonly logger: Logger,
  ) {
    this.ring = new EventRing(o.retainEvents);
    this.heart = setInterval(() => this.beat(), o.heartbeatMs);
  }

  /** True once `close()` was called. */
  get isClosed(): boolean {
    return this.closed;
  }

  /** @returns true while another client may connect */
  get hasRoom(): boolean {
    return !this.closed && this.clients.size < this.o.maxClients;
  }

  stats(): GatewayStats {
    return {
      clients: this.clients.size,
      ...this.counts,
      disconnected: { ...this.kicked },
      refused: { ...this.refused },
    };
  }

  /** Registers a connected client; `closed` must be called when its socket closes. */
  add(conn: Connection, claims: unknown): Client {
    const c = new Client(conn, claims);
    this.clients.add(c);
    return c;
  }

  /** The client's socket closed. */
  remove(c: Client): void {
    c.state = 'gone';
    c.abort.abort();
    this.clients.delete(c);
  }

  /**
   * Starts sending `patterns` to the client: live events from now on and, with `from`, every
   * retained matching event after that seq first.
   */
  async subscribe(c: Client, patterns: readonly string[], from: number | undefined): Promise<void> {
    c.patterns = new PatternSet(patterns);
    if (from === undefined) {
      c.state = 'live';
      c.conn.control('subscribed', patterns);
      return;
    }
    c.state = 'catching-up';
    c.floor = from;
    c.conn.control('subscribed', patterns);
    try {
      await this.catchUp(c, patterns, from);
    } catch (err) {
      if (c.gone) return;
      this.logger.warn({ err }, 'gateway could not read the history a client asked for');
      c.conn.control('error', 'the events after that seq could not be read');
    }
    if (c.state === 'catching-up') c.state = 'live';
  }

  private async catchUp(c: Client, patterns: readonly string[], from: number): Promise<void> {
    if (!this.ring.holdsAfter(from)) {
      for await (const e of this.history(patterns, from, c.abort.signal)) {
        if (c.state !== 'catching-up') return;
        await this.sendCaughtUp(c, e);
      }
    }
    for (const e of this.ring.after(c.floor)) {
      if (c.state !== 'catching-up') return;
      await this.sendCaughtUp(c, e);
    }
    // Live arrivals meanwhile; no await between the last look and going live.
    while (c.pending.length > 0 && c.state === 'catching-up') {
      const batch = c.pending.sort((a, b) => a.seq - b.seq);
      c.pending = [];
      for (const e of batch) await this.sendCaughtUp(c, e);
    }
  }

  private async sendCaughtUp(c: Client, e: GatewayEvent): Promise<void> {
    if (e.seq <= c.floor || c.state !== 'catching-up') return;
    c.floor = e.seq;
    if (!this.visible(c, e)) return;
    if (c.conn.buffered() * 2 < this.o.maxBufferedBytes) return this.write(c, e);
    // Over half the bound: wait for this one to leave instead of queueing the whole history.
    const signal = c.abort.signal;
    await new Promise<void>((resolve) => {
      const done = (): void => {
        signal.removeEventListener('abort', done);
        resolve();
      };
      signal.addEventListener('abort', done, { once: true });
      this.write(c, e, done);
    });
  }

  /** An event from the broker: into the ring, then to every client it is for. */
  publish(e: GatewayEvent): void {
    if (this.closed || this.ring.add(e) === 'duplicate') return;
    this.counts.received++;
    for (const c of this.clients) {
      if (c.state === 'live') {
        if (e.seq > c.floor && this.visible(c, e)) this.write(c, e);
      } else if (c.state === 'catching-up' && c.patterns?.matches(e.type)) {
        c.pending.push(e);
        if (c.pending.length > this.o.retainEvents)
          this.disconnect(c, 'slow', 'too many events arrived while catching up');
      }
    }
  }

  private visible(c: Client, e: GatewayEvent): boolean {
    if (!c.patterns?.matches(e.type)) return false;
    const filter = this.o.filter;
    if (!filter) return true;
    try {
      return filter(c.claims, e.event) === true;
    } catch (err) {
      this.logger.warn({ err, type: e.type, seq: e.seq }, 'gateway filter threw; the event is hidden');
      return false;
    }
  }

  private write(c: Client, e: GatewayEvent, flushed?: () => void): void {
    if (c.conn.buffered() >= this.o.maxBufferedBytes) {
      this.disconnect(c, 'slow', `client too slow: ${this.o.maxBufferedBytes} bytes unsent`);
      flushed?.();
      return;
    }
    c.conn.send(e, flushed);
    this.counts.sent++;
  }

  private disconnect(c: Client, reason: DisconnectReason, text: string): void {
    if (c.state === 'gone') return;
    this.kicked[reason]++;
    this.logger.info({ reason, kind: c.conn.kind }, `gateway disconnected a client: ${text}`);
    this.remove(c);
    c.conn.disconnect(reason, text);
  }

  private beat(): void {
    for (const c of this.clients) if (!c.conn.heartbeat()) this.disconnect(c, 'heartbeat', 'no pong');
  }

  /** Disconnects every client and stops the heartbeat; idempotent. */
  close(): void {
    this.closed = true;
    clearInterval(this.heart);
    for (const c of this.clients) this.disconnect(c, 'closing', 'the server is shutting down');
  }
}
