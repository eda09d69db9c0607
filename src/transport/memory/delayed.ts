import { ValidationError } from '../../errors.js';
import type { Logger } from '../../logging.js';
import type { Clock } from '../../time/clock.js';
import type { OutboundMessage, PublishReceipt } from '../transport.js';
import { DueHeap, type Due } from './queue/heap.js';

/** After a release the transport refused (backpressure), the event is tried again this much later. */
const RETRY_MS = 1_000;

/** One event waiting for its time. */
class Held implements Due {
  heapIndex = -1;
  constructor(
    public dueAt: number,
    readonly msg: OutboundMessage,
  ) {}
}

/**
 * Events published with `delayMs` on the memory transport: a min-heap by due time with one timer,
 * for the earliest. An event is released (stored and delivered like any publish) no earlier than
 * its due time on the transport's clock. Held in this process only, as everything of this transport.
 * @example
 * const delayed = new MemoryDelayed(clock, (msg) => store(msg), () => logger);
 * delayed.hold(msg, 60_000);
 * delayed.stop();
 */
export class MemoryDelayed {
  private readonly heap = new DueHeap<Held>();
  private timer: unknown = undefined;
  private timerAt = Number.POSITIVE_INFINITY;

  constructor(
    private readonly clock: Clock,
    private readonly release: (msg: OutboundMessage) => void,
    private readonly logger: () => Logger,
  ) {}

  /** Events held now. */
  get size(): number {
    return this.heap.size;
  }

  /**
   * Holds `msg` until `delayMs` from now.
   * @throws {ValidationError} unless `delayMs` is a finite number of ms, 0 or more
   */
  hold(msg: OutboundMessage, delayMs: number): PublishReceipt {
    if (!(Number.isFinite(delayMs) && delayMs >= 0))
      throw new ValidationError(`delayMs must be a finite number of ms, 0 or more (got ${delayMs})`);
    this.heap.push(new Held(this.clock.now() + delayMs, msg));
    this.arm();
    return { id: msg.event.id };
  }

  private arm(): void {
    const top = this.heap.peek();
    if (!top || (this.timer !== undefined && this.timerAt <= top.dueAt)) return;
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timerAt = top.dueAt;
    this.timer = this.clock.setTimeout(this.fire, Math.max(0, top.dueAt - this.clock.now()));
  }

  private readonly fire = (): void => {
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
    const now = this.clock.now();
    const refused: Held[] = [];
    // A timer may fire a little before its time: only what is due by the clock goes.
    for (let top = this.heap.peek(); top && top.dueAt <= now; top = this.heap.peek()) {
      this.heap.pop();
      try {
        this.release(top.msg);
      } catch (err) {
        this.logger().warn({ err, eventId: top.msg.event.id }, 'delayed event refused; trying again');
        top.dueAt = now + RETRY_MS;
        refused.push(top);
      }
    }
    for (const held of refused) this.heap.push(held);
    this.arm();
  };

  /** Sets the timer again after {@link stop} (the transport was started again). */
  resume(): void {
    this.arm();
  }

  /** Clears the timer; held events wait for {@link resume}. Idempotent. */
  stop(): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
  }
}
