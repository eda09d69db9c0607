import type { Msg } from '@nats-io/transport-node';
import { ack, nak, term, working } from '../toolkit/ack.js';
import { Pull, type PullTiming } from '../toolkit/pull.js';
import type { QueueContext } from './context.js';

/**
 * Jobs handed back on close return after this: a closed worker's pull requests stay on the server
 * until they expire, and a job sent back at once could be delivered to one of them (and then sit
 * until the ack wait).
 */
export const HANDBACK_DELAY_MS = 2_250;

/** Queue pulls expire before a handed-back job returns (see {@link HANDBACK_DELAY_MS}). */
const TIMING: PullTiming = { expiresMs: HANDBACK_DELAY_MS - 250, heartbeatMs: 1_000 };

/** One delivery of a queue consumer, settled with JetStream's acknowledgement bodies. */
export class QueueMsg {
  constructor(
    private readonly msg: Msg,
    /** The server's delivery count of this message (1 on first delivery). */
    readonly delivered: number,
    readonly seq: number,
    /** Messages the consumer still held for delivery right after this one. */
    readonly pending: number,
  ) {}

  get subject(): string {
    return this.msg.subject;
  }

  get data(): Uint8Array {
    return this.msg.data;
  }

  ack(): void {
    ack(this.msg);
  }

  /** Sends the message back; it is delivered again after `delayMs`. */
  nak(delayMs = 0): void {
    nak(this.msg, delayMs);
  }

  /** Never again. */
  term(): void {
    term(this.msg);
  }

  working(): void {
    working(this.msg);
  }
}

/**
 * A long-lived pull on one of the queue's consumers, delivering {@link QueueMsg}s synchronously.
 * @param target - how many messages the consumer may hold now, fetched but not handed on, plus requested
 * @param held - how many it holds
 */
export function queuePull(
  ctx: QueueContext,
  consumer: string,
  target: () => number,
  held: () => number,
  receive: (m: QueueMsg) => void,
): Pull {
  const { nc, options, names, logger } = ctx;
  const pull: Pull = new Pull({
    nc,
    apiPrefix: options.apiPrefix,
    stream: names.stream,
    consumer,
    room: () => target() - held(),
    minBatch: () => Math.max(1, target() >> 2),
    timing: TIMING,
    handlers: {
      message: (msg, delivered, seq, pending) => receive(new QueueMsg(msg, delivered, seq, pending)),
      // "No responders" kills only that request: the watchdog asks again. Silence means the
      // requests died (a reconnect, a restarted server): ask afresh.
      suspect: (reason) => {
        if (reason !== 'heartbeats-missed') return;
        logger.debug({ consumer }, 'queue pulls unanswered; pulling afresh');
        pull.reset();
      },
      deleted: () => logger.warn({ consumer }, 'queue consumer deleted'),
    },
  });
  return pull;
}
