import type { CloudEvent } from '../../events/cloudevent.js';
import { TimeoutError } from '../../errors.js';
import { runOutsideHandling } from '../../events/correlation.js';
import { runWithoutTrace } from '../../tracing/context.js';
import type { Delivery } from '../../transport/transport.js';
import type { Activity } from './activity.js';
import { DeliveryMeta, type EventMeta } from './meta.js';
import type { PayloadDecoder } from '../../events/versions.js';
import { receive } from './receive.js';
import { deadLetter, settleFailure, type SettleContext } from './settle.js';

/** A batch subscriber's handler. */
export type BatchHandler<P = unknown> = (payloads: P[], metas: EventMeta[]) => unknown;

/** How one batch subscription collects and handles deliveries. */
export interface BatchPipelineOptions extends SettleContext {
  /** Validates (and upcasts) each delivery's payload by its own type. */
  readonly decode: PayloadDecoder;
  readonly handler: BatchHandler;
  readonly batchSize: number;
  readonly batchTimeoutMs: number;
  readonly timeoutMs: number;
  readonly activity: Activity;
}

interface Item {
  readonly delivery: Delivery;
  readonly event: CloudEvent;
  readonly payload: unknown;
  readonly meta: DeliveryMeta;
}

/**
 * Collects valid deliveries into batches of `batchSize`, or fewer once `batchTimeoutMs` has passed
 * since the first one, and settles the batch as one: all acked, or each retried or dead-lettered
 * on its own attempt count.
 */
export class BatchPipeline {
  private items: Item[] = [];
  private timer: unknown = undefined;
  private readonly flushNow = (): void => this.flush();

  constructor(readonly options: BatchPipelineOptions) {}

  accept(delivery: Delivery): void {
    const o = this.options;
    o.stats.received++;
    const r = receive(delivery, o.group, o.decode);
    if (!r.ok) {
      if (r.skip) return delivery.ack();
      o.activity.begin();
      void runOutsideHandling(deadLetter, o, delivery, r.event, r.reason, r.error, r.raw).then(() =>
        o.activity.end(),
      );
      return;
    }
    if (this.items.length === 0) {
      o.activity.begin();
      this.timer = o.clock.setTimeout(this.flushNow, o.batchTimeoutMs);
    }
    this.items.push({
      delivery,
      event: r.event,
      payload: r.payload,
      meta: new DeliveryMeta(r.event, delivery, o.group),
    });
    if (this.items.length >= o.batchSize) this.flush();
  }

  /** Hands the collected items to the handler now (also used when draining). */
  flush(): void {
    if (this.timer !== undefined) this.options.clock.clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.items;
    if (batch.length === 0) return;
    this.items = [];
    this.options.stats.inFlight += batch.length;
    // A batch has no one cause: publishes inside its handler start chains of their own unless
    // they say otherwise, and do not inherit from the event whose handler woke this flush.
    void runOutsideHandling(this.runBatch, batch).finally(() => {
      this.options.stats.inFlight -= batch.length;
      this.options.activity.end();
    });
  }

  private readonly runBatch = (batch: Item[]): Promise<void> => this.run(batch);

  private async run(batch: Item[]): Promise<void> {
    const o = this.options;
    const outcome = await this.invoke(batch);
    if (outcome === undefined) {
      for (const item of batch) item.delivery.ack();
      o.stats.handled += batch.length;
      return;
    }
    const reason = outcome instanceof TimeoutError ? 'timeout' : 'handler';
    await Promise.all(batch.map((item) => settleFailure(o, item.delivery, item.event, outcome, reason)));
  }

  /** @returns undefined on success, else the error (a TimeoutError past `timeoutMs`) */
  private async invoke(batch: Item[]): Promise<unknown> {
    const o = this.options;
    let timer: unknown;
    const timeout = new Promise<TimeoutError>((resolve) => {
      timer = o.clock.setTimeout(
        () => resolve(new TimeoutError(o.timeoutMs, `batch handler timed out after ${o.timeoutMs} ms`)),
        o.timeoutMs,
      );
    });
    try {
      const handled = Promise.resolve()
        .then(() =>
          runWithoutTrace(() =>
            o.handler(
              batch.map((i) => i.payload),
              batch.map((i) => i.meta),
            ),
          ),
        )
        .then(() => undefined);
      const result = await Promise.race([handled, timeout]);
      if (result instanceof TimeoutError) for (const item of batch) item.meta.abort(result);
      return result;
    } catch (err) {
      return err ?? new Error('batch handler rejected');
    } finally {
      o.clock.clearTimeout(timer);
    }
  }

  close(): void {
    this.flush();
  }
}
