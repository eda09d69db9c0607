import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../../logging.js';
import type { DashboardBreaker, DashboardSnapshot } from './snapshot.js';

/** Options of {@link DashboardFeed}. */
export interface FeedOptions {
  /** Reads the current snapshot. */
  readonly read: () => Promise<DashboardSnapshot>;
  /** The breakers whose state changes push an update at once; read again on every refresh. */
  readonly breakers: () => readonly DashboardBreaker[];
  /** Other changes that push an update at once (health): called while a page is connected. */
  readonly watch?: (changed: () => void) => () => void;
  /** A full refresh is pushed this often while a page is connected. @default 1_000 */
  readonly refreshMs?: number;
  /** Changes closer together than this are pushed once. @default 25 */
  readonly coalesceMs?: number;
  /** Pages connected at once; more are answered 503. @default 64 */
  readonly maxClients?: number;
  readonly logger?: Logger;
}

/**
 * The dashboard's server-sent events: one snapshot is read per update and the same frame written to
 * every connected page, shortly after a breaker changes state or `changed()` is called (health
 * changes), and on a periodic refresh. A page that connects gets the latest frame at once (the
 * others are not pushed to); the first one waits for a fresh read. At most `maxClients` pages are
 * served. Nothing runs while no page is connected.
 */
export class DashboardFeed {
  private readonly clients = new Set<ServerResponse>();
  private readonly watched = new Map<DashboardBreaker, () => void>();
  private readonly refreshMs: number;
  private readonly coalesceMs: number;
  private readonly maxClients: number;
  /** The last frame written, while pages are connected: what a newly connected page starts with. */
  private latest: string | undefined;
  private unwatch: (() => void) | undefined;
  private refreshTimer: NodeJS.Timeout | undefined;
  private pushTimer: NodeJS.Timeout | undefined;
  private reading: Promise<void> | undefined;
  private again = false;
  private closed = false;

  constructor(private readonly o: FeedOptions) {
    this.refreshMs = o.refreshMs ?? 1_000;
    this.coalesceMs = o.coalesceMs ?? 25;
    this.maxClients = o.maxClients ?? 64;
  }

  /** How many pages are connected. */
  get size(): number {
    return this.clients.size;
  }

  /** Serves `GET …/events`: keeps the response open and writes snapshots to it. */
  attach(req: IncomingMessage, res: ServerResponse): void {
    if (this.closed || this.clients.size >= this.maxClients) {
      const error = this.closed ? 'the dashboard is closing' : 'too many live dashboard pages';
      res.writeHead(503, { 'content-type': 'application/json; charset=utf-8', 'retry-after': '5' });
      res.end(JSON.stringify({ error }));
      return;
    }
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    res.write('retry: 1000\n\n');
    this.clients.add(res);
    const drop = (): void => {
      this.clients.delete(res);
      if (this.clients.size === 0) this.idle();
    };
    req.on('close', drop);
    res.on('error', drop);
    this.watchBreakers();
    this.unwatch ??= this.o.watch?.(() => this.changed());
    this.refreshTimer ??= setInterval(() => this.changed(0), this.refreshMs);
    // A read under way reaches this page too; a page that joins later starts from the latest frame.
    if (this.latest !== undefined) res.write(this.latest);
    else if (!this.reading) this.changed(0);
  }

  /** Pushes an update soon (coalescing bursts of changes). */
  changed(delayMs = this.coalesceMs): void {
    if (this.closed || this.clients.size === 0 || this.pushTimer) return;
    this.pushTimer = setTimeout(() => {
      this.pushTimer = undefined;
      this.push();
    }, delayMs);
  }

  /** Ends every stream and stops listening; idempotent. */
  close(): void {
    this.closed = true;
    for (const res of this.clients) res.end();
    this.clients.clear();
    this.idle();
  }

  private push(): void {
    if (this.reading) {
      this.again = true;
      return;
    }
    this.reading = this.o
      .read()
      .then((snap) => this.send(snap))
      .catch((err: unknown) => this.o.logger?.warn({ err }, 'dashboard snapshot failed'))
      .finally(() => {
        this.reading = undefined;
        if (this.again) {
          this.again = false;
          this.push();
        }
      });
  }

  private send(snap: DashboardSnapshot): void {
    this.watchBreakers();
    if (this.clients.size === 0) return;
    const frame = `event: snapshot\ndata: ${JSON.stringify(snap)}\n\n`;
    this.latest = frame;
    for (const res of this.clients) res.write(frame);
  }

  /** Listens to breakers created since the last look. */
  private watchBreakers(): void {
    for (const b of this.o.breakers()) {
      if (!this.watched.has(b))
        this.watched.set(
          b,
          b.on('stateChange', () => this.changed()),
        );
    }
  }

  private idle(): void {
    this.latest = undefined;
    if (this.refreshTimer) clearInterval(this.refreshTimer);
    if (this.pushTimer) clearTimeout(this.pushTimer);
    this.refreshTimer = undefined;
    this.pushTimer = undefined;
    for (const off of this.watched.values()) off();
    this.watched.clear();
    this.unwatch?.();
    this.unwatch = undefined;
  }
}
