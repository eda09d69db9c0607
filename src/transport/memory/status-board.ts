import type { Clock } from '../../time/clock.js';
import type { Logger } from '../../logging.js';
import type { TransportStatus } from '../transport.js';
import type { Missed } from './drop-index.js';
import type { BacklogLimits, TypeStream } from './type-stream.js';

/** Notices kept at most, newest last. */
const MAX_NOTICES = 20;
/** How long a notice stays in `status()`. */
const NOTICE_TTL_MS = 10 * 60_000;

const STORING: TransportStatus = Object.freeze({
  kind: 'memory',
  connected: true,
  state: 'connected',
  storing: true,
});

const count = (n: number): string => n.toLocaleString('en-US');

/**
 * What the memory transport tells people: whether publishes are being stored (not while some
 * type's are refused for backpressure: why, and since when), recent notices, and a log line for
 * each; status listeners hear of every change.
 */
export class StatusBoard {
  private readonly refusals = new Map<string, string>();
  private since: number | undefined;
  private notices: { readonly at: number; readonly text: string }[] = [];
  private readonly listeners = new Set<(status: TransportStatus) => void>();

  /** @param logger - read at each line: the transport learns its logger at `start()` */
  constructor(
    private readonly clock: Clock,
    private readonly logger: () => Logger,
  ) {}

  /**
   * Publishes of `stream`'s type are refused: the first refusal of a spell is logged and turns
   * `storing` false.
   * @returns why, for the error the publisher gets
   */
  refused(stream: TypeStream, limits: BacklogLimits): string {
    const who = stream.laggard()?.label ?? 'a consumer';
    const reason =
      `publishes of "${stream.type}" are refused: ${who} is ${count(stream.pending)} events behind ` +
      `(maxBacklog ${count(limits.maxBacklog)}); they resume once it is back to ${count(limits.resumeAt)}`;
    const known = this.refusals.has(stream.type);
    this.refusals.set(stream.type, reason);
    if (known) return reason;
    if (this.refusals.size === 1) this.since = this.clock.now();
    this.logger().warn(
      { type: stream.type, consumer: who, maxBacklog: limits.maxBacklog },
      'publishes refused',
    );
    this.changed();
    return reason;
  }

  /** Publishes of `type` are accepted again. */
  accepted(type: string): void {
    if (!this.refusals.delete(type)) return;
    this.logger().info({ type }, 'publishes accepted again');
    if (this.refusals.size === 0) this.since = undefined;
    this.changed();
  }

  /** A new consumer asked for events that retention had dropped: one notice, one warning. */
  missed(type: string, group: string, label: string, missed: Missed): void {
    const amount = `${missed.exact ? '' : 'at least '}${count(missed.count)}`;
    this.notices.push({
      at: this.clock.now(),
      text: `${label} missed ${amount} events of "${type}" that retention had dropped`,
    });
    if (this.notices.length > MAX_NOTICES) this.notices.shift();
    this.logger().warn(
      { type, group, missed: missed.count },
      'consumer missed events that retention had dropped',
    );
    this.changed();
  }

  snapshot(): TransportStatus {
    const notices = this.recentNotices();
    if (this.since === undefined && notices.length === 0) return STORING;
    const storing = this.since === undefined;
    return {
      ...STORING,
      storing,
      ...(!storing && {
        notStoringSince: this.since,
        notStoringForMs: this.clock.now() - this.since!,
        reason: this.reason(),
      }),
      ...(notices.length > 0 && { notices }),
    };
  }

  /** @returns a function that removes the listener */
  on(listener: (status: TransportStatus) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private reason(): string {
    const [first] = this.refusals.values();
    const more = this.refusals.size - 1;
    return more > 0 ? `${first} (and ${more} more types)` : first!;
  }

  private recentNotices(): string[] {
    const oldest = this.clock.now() - NOTICE_TTL_MS;
    if (this.notices[0] !== undefined && this.notices[0].at < oldest) {
      this.notices = this.notices.filter((n) => n.at >= oldest);
    }
    return this.notices.map((n) => n.text);
  }

  private changed(): void {
    const status = this.snapshot();
    for (const listener of this.listeners) {
      try {
        listener(status);
      } catch (err) {
        this.logger().warn({ err }, 'transport status listener threw');
      }
    }
  }
}
