import { randomBytes } from 'node:crypto';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import type { CloudEvent } from '../../../src/events/cloudevent.js';
import { isoTime, uuidv7 } from '../../../src/events/ids.js';
import { silentLogger } from '../../../src/logging.js';
import type {
  Delivery,
  DeliverySink,
  OutboundMessage,
  TransportContext,
} from '../../../src/transport/transport.js';

/** A prefix no other test uses: every test gets its own streams. */
export function uniquePrefix(): string {
  return `t${randomBytes(5).toString('hex')}`;
}

export const ctx: TransportContext = { service: 'test', logger: silentLogger };

/** Deletes every stream of `prefix` (`<PREFIX>_*`: events, dead letters and job queues). */
export async function dropStreams(url: string, prefix: string): Promise<void> {
  const nc = await connect({ servers: url });
  try {
    const jsm = await jetstreamManager(nc);
    // The prefix's streams, and the streams behind its key-value buckets (`KV_<prefix>_…`).
    const heads = [`${prefix.toUpperCase()}_`, `KV_${prefix}_`, `KV_${prefix.toUpperCase()}_`];
    for await (const s of jsm.streams.list()) {
      if (heads.some((h) => s.config.name.startsWith(h)))
        await jsm.streams.delete(s.config.name).catch(() => false);
    }
  } finally {
    await nc.close();
  }
}

/**
 * Events the consumers of `prefix`'s event stream have yet to deliver or to hear acked: 0 once every
 * group is done and the broker has nothing left to deliver again.
 */
export async function eventsBacklog(url: string, prefix: string): Promise<number> {
  const nc = await connect({ servers: url });
  try {
    const jsm = await jetstreamManager(nc);
    let backlog = 0;
    for await (const c of jsm.consumers.list(`${prefix.toUpperCase()}_EVENTS`)) {
      backlog += c.num_pending + c.num_ack_pending;
    }
    return backlog;
  } finally {
    await nc.close();
  }
}

export function cloudEvent<T>(type: string, data: T, id: string = uuidv7()): CloudEvent<T> {
  return {
    specversion: '1.0',
    id,
    source: 'test',
    type,
    time: isoTime(),
    datacontenttype: 'application/json',
    data,
  };
}

export function outbound<T>(type: string, data: T, id?: string): OutboundMessage {
  const event = cloudEvent(type, data, id);
  return { type, event, msgId: event.id };
}

/** A sink that keeps deliveries and lets a test wait for a count. */
export class Collector implements DeliverySink {
  readonly deliveries: Delivery[] = [];
  readonly failures: Error[] = [];
  private waiters: { n: number; resolve: () => void }[] = [];

  constructor(private readonly onDeliver?: (d: Delivery) => void) {}

  deliver(d: Delivery): void {
    this.deliveries.push(d);
    this.onDeliver?.(d);
    this.waiters = this.waiters.filter((w) => (this.deliveries.length >= w.n ? (w.resolve(), false) : true));
  }

  failed(error: Error): void {
    this.failures.push(error);
  }

  /** Resolves once `n` deliveries arrived in total; rejects after `ms`. */
  async waitFor(n: number, ms = 10_000): Promise<void> {
    if (this.deliveries.length >= n) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`got ${this.deliveries.length} of ${n} deliveries`)),
        ms,
      );
      this.waiters.push({
        n,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      });
    });
  }
}

/** The event id in a delivery's body. */
export function idOf(d: Delivery): string {
  const text = typeof d.body === 'string' ? d.body : new TextDecoder().decode(d.body);
  return (JSON.parse(text) as { id: string }).id;
}
