import { RecountedDelivery } from './recounted-delivery.js';
import type { CloudEvent } from '../../events/cloudevent.js';
import { TimeoutError } from '../../errors.js';
import { runHandling, runHandlingAsync, runOutsideHandling } from '../../events/correlation.js';
import {
  activeTrace,
  childSpan,
  parseTraceparent,
  runWithoutTrace,
  runWithTrace,
} from '../../tracing/context.js';
import type { Delivery } from '../../transport/transport.js';
import type { Activity } from './activity.js';
import type { IdempotencyGuard } from './idempotency.js';
import { Deadlines, type Expirable } from '../../time/deadlines.js';
import { DeliveryMeta, type EventMeta } from './meta.js';
import type { PayloadDecoder } from '../../events/versions.js';
import { receive } from './receive.js';
import { deadLetter, settleFailure, type SettleContext } from './settle.js';

/** A subscriber's handler. */
export type Handler<P = unknown> = (payload: P, meta: EventMeta) => unknown;

/** How one subscription handles each delivery. */
export interface PipelineOptions extends SettleContext {
  /** Validates (and upcasts) each delivery's payload by its own type. */
  readonly decode: PayloadDecoder;
  readonly handler: Handler;
  /**
   * The handler is an `async` function: the event it handles follows it through its awaits (async
   * context, which costs every promise of the process a hook on Node 20); otherwise only while it runs.
   */
  readonly asyncHandler?: boolean;
  readonly filter: ((payload: any, meta: EventMeta) => boolean) | undefined;
  readonly timeoutMs: number;
  readonly activity: Activity;
  /** Set for `idempotency` subscriptions: claims each event's key before its handler runs. */
  readonly idempotency?: IdempotencyGuard | undefined;
}

/** One attempt at one delivery; it settles exactly once, by the handler or by its deadline. */
class Attempt implements Expirable {
  done = false;
  prev: Expirable | undefined = undefined;
  next: Expirable | undefined = undefined;
  linked = false;
  readonly started: number;
  readonly deadline: number;
  /** Set once the attempt timed out: frees the slot its still-running handler holds. */
  release: (() => void) | undefined = undefined;

  constructor(
    readonly pipeline: DeliveryPipeline,
    readonly delivery: Delivery,
    readonly event: CloudEvent,
    readonly meta: DeliveryMeta,
  ) {
    this.started = pipeline.options.clock.now();
    this.deadline = this.started + pipeline.options.timeoutMs;
  }

  expire(): void {
    this.pipeline.timedOut(this);
  }
}

/**
 * Decode → validate → filter → handler → ack / retry / dead-letter, for one subscription.
 * One object per subscription; per delivery it allocates the attempt, its meta and the handler's promise.
 */
export class DeliveryPipeline {
  private readonly deadlines: Deadlines<Attempt>;

  constructor(readonly options: PipelineOptions) {
    this.deadlines = new Deadlines<Attempt>(options.clock);
  }

  accept(delivery: Delivery): void {
    const o = this.options;
    o.stats.received++;
    o.observer?.onReceived?.(o.type, o.group);
    const r = receive(delivery, o.group, o.decode);
    if (!r.ok) {
      if (r.skip) {
        o.stats.skipped++;
        return delivery.ack();
      }
      // Not caused by whatever event's handler woke this delivery: its log lines must not say so.
      return this.track(runOutsideHandling(deadLetter, o, delivery, r.event, r.reason, r.error, r.raw));
    }
    const meta = new DeliveryMeta(r.event, delivery, o.group);
    if (o.filter && !runHandling(r.event, this.passes, r.payload, meta, delivery)) return;
    // Idempotent subscriptions first claim the event's key; duplicates are settled by the guard.
    if (o.idempotency) {
      const begin = (notTries: number): void => {
        // Rounds sent back while another run held the key are not tries: they spend no attempts.
        const counted = notTries > 0 ? new RecountedDelivery(delivery, notTries) : delivery;
        if (counted !== delivery) meta.recount(counted);
        this.begin(counted, r.event, r.payload, meta);
      };
      return this.track(o.idempotency.admit(delivery, r.event, r.payload, meta, begin));
    }
    this.begin(delivery, r.event, r.payload, meta);
  }

  private begin(delivery: Delivery, event: CloudEvent, payload: unknown, meta: DeliveryMeta): void {
    const o = this.options;
    const attempt = new Attempt(this, delivery, event, meta);
    this.deadlines.add(attempt);
    o.activity.begin();
    o.stats.inFlight++;
    o.trace?.attempt(event.id, delivery.attempt);
    // The event is "being handled" from the call to the settle: publishes inside the handler
    // descend from it, and every log line of the attempt (the handler's, the retry's) names it.
    (o.asyncHandler ? runHandlingAsync : runHandling)(event, this.run, attempt, payload);
  }

  private readonly passes = (payload: unknown, meta: DeliveryMeta, delivery: Delivery): boolean => {
    try {
      if (this.options.filter!(payload, meta)) return true;
    } catch (err) {
      this.options.logger.warn({ err, eventId: meta.id }, 'filter threw; treating the event as filtered out');
    }
    this.options.stats.filtered++;
    delivery.ack();
    return false;
  };

  /**
   * Calls the handler; a handler that returns at once (no promise) is settled in the same turn,
   * without a promise or a microtask of bulwark's own.
   */
  private readonly run = (attempt: Attempt, payload: unknown): void => {
    let out: unknown;
    try {
      out = this.call(attempt, payload);
    } catch (err) {
      return this.failed(attempt, err);
    }
    if (isThenable(out))
      out.then(
        () => this.succeeded(attempt),
        (err: unknown) => this.failed(attempt, err),
      );
    else this.succeeded(attempt);
  };

  private call(attempt: Attempt, payload: unknown): unknown {
    const o = this.options;
    // The CloudEvents tracing extension; `meta.traceparent` also reads the header, on demand.
    const parent = parseTraceparent(attempt.event.traceparent);
    if (parent) return runWithTrace(childSpan(parent), () => o.handler(payload, attempt.meta));
    if (activeTrace() === undefined) return o.handler(payload, attempt.meta);
    return runWithoutTrace(() => o.handler(payload, attempt.meta));
  }

  private succeeded(attempt: Attempt): void {
    if (!this.finish(attempt)) return this.returnedLate(attempt);
    const o = this.options;
    o.stats.handled++;
    o.observer?.onHandled?.(o.type, o.group, o.clock.now() - attempt.started);
    attempt.delivery.ack();
    o.trace?.acked(attempt.event.id, attempt.delivery.attempt);
    this.end();
  }

  private failed(attempt: Attempt, err: unknown): void {
    if (!this.finish(attempt)) return this.returnedLate(attempt);
    void settleFailure(this.options, attempt.delivery, attempt.event, err, 'handler').then(() => this.end());
  }

  /** The attempt ran past `timeoutMs`: it fails now; whatever the handler does later is ignored. */
  timedOut(attempt: Attempt): void {
    if (attempt.done) return;
    runHandling(attempt.event, this.expired, attempt);
  }

  private readonly expired = (attempt: Attempt): void => {
    attempt.done = true;
    const err = new TimeoutError(
      this.options.timeoutMs,
      `handler timed out after ${this.options.timeoutMs} ms`,
    );
    attempt.meta.abort(err);
    this.options.stats.timeouts++;
    // Until the handler returns (it may ignore the signal) its slot stays taken: no more handlers
    // run at once than `concurrency` allows.
    attempt.release = attempt.delivery.hold();
    this.options.stats.hung++;
    this.options.onStateChange?.();
    void settleFailure(this.options, attempt.delivery, attempt.event, err, 'timeout').then(() => this.end());
  };

  /** A timed-out handler returned at last: its slot is free. */
  private returnedLate(attempt: Attempt): void {
    if (!attempt.release) return;
    attempt.release();
    attempt.release = undefined;
    this.options.stats.hung--;
    this.options.onStateChange?.();
  }

  private finish(attempt: Attempt): boolean {
    if (attempt.done) return false;
    attempt.done = true;
    this.deadlines.delete(attempt);
    return true;
  }

  private end(): void {
    this.options.stats.inFlight--;
    this.options.activity.end();
  }

  private track(work: Promise<void>): void {
    this.options.activity.begin();
    void work.then(() => this.options.activity.end());
  }

  /** Stops the deadline timer; call once nothing is in flight. */
  close(): void {
    this.deadlines.stop();
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | null)?.then === 'function';
}
