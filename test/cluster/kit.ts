import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { pino } from 'pino';
import { z } from 'zod';
import {
  createRuntime,
  defineEvents,
  natsTransport,
  type NatsTransportOptions,
  type PublishReceipt,
  type Runtime,
} from '../../src/index.js';
import { Names } from '../../src/transport/nats/toolkit/names.js';
import type { Cluster } from '../support/cluster.js';

/** The events the fault tests publish: a number each, to tell them apart in failures. */
export const events = defineEvents({ 'order.placed': z.object({ n: z.number() }) });
export type ClusterRuntime = Runtime<typeof events.schemas>;

/** How long a cluster may take to settle after a fault: elections, catch-up, redeliveries. */
export const SETTLE_MS = 30_000;

/** A runtime on the cluster with R3 streams under its own prefix; shuts down within a bound. */
export async function clusterRuntime(
  cluster: Cluster,
  prefix: string,
  extra: NatsTransportOptions = {},
): Promise<ClusterRuntime> {
  return await createRuntime({
    service: 'faults',
    events,
    transport: natsTransport({ servers: cluster.urls, prefix, replicas: 3, ...extra }),
    logger: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
    handleSignals: false,
    shutdownTimeoutMs: 10_000,
  });
}

/** The events stream of a prefix, named where the transport names it. */
export const eventsStream = (prefix: string): string => new Names(prefix).eventsStream;
/** The durable consumer of a subscriber group for the fault tests' event type. */
export const groupConsumer = (prefix: string, group: string): string =>
  new Names(prefix).groupConsumer(group, 'order.placed');
/** The stream of a job queue, named where the transport names it. */
export const queueStream = (prefix: string, queue: string): string => new Names(prefix).queue(queue).stream;

/** Messages stored in a stream, asked of whichever node answers. */
export async function storedMessages(cluster: Cluster, stream: string): Promise<number> {
  const nc = await connect({ servers: cluster.urls });
  try {
    return (await (await jetstreamManager(nc, { checkAPI: false })).streams.info(stream)).state.messages;
  } finally {
    await nc.close();
  }
}

/** Events of a stream its consumers have yet to deliver or hear acked: 0 once every group is done. */
export async function backlog(
  cluster: Cluster,
  stream: string,
  expected: readonly string[] = [],
): Promise<number> {
  const nc = await connect({ servers: cluster.urls });
  try {
    let left = 0;
    const seen = new Set<string>();
    for await (const c of (await jetstreamManager(nc, { checkAPI: false })).consumers.list(stream)) {
      left += c.num_pending + c.num_ack_pending;
      seen.add(c.name);
    }
    // Just after a node restarts, a listing can leave consumers out: one that lacks an expected
    // consumer says nothing about its backlog.
    return expected.every((name) => seen.has(name)) ? left : Number.POSITIVE_INFINITY;
  } finally {
    await nc.close();
  }
}

/** One publish: when it started, and how and when it settled. */
export interface PublishOutcome {
  readonly n: number;
  readonly startedAt: number;
  settledAt?: number;
  id?: string;
  error?: unknown;
}

/** Tracks publishes as they settle: which resolved (and with which id), which rejected, which are pending. */
export class Outcomes {
  readonly all: PublishOutcome[] = [];
  readonly resolvedIds = new Set<string>();

  /** Records `publish`'s outcome; the returned promise never rejects. */
  track(n: number, publish: Promise<PublishReceipt>): Promise<void> {
    const o: PublishOutcome = { n, startedAt: performance.now() };
    this.all.push(o);
    return publish.then(
      (r) => {
        o.settledAt = performance.now();
        o.id = r.id;
        this.resolvedIds.add(r.id);
      },
      (err: unknown) => {
        o.settledAt = performance.now();
        o.error = err;
      },
    );
  }

  get pending(): PublishOutcome[] {
    return this.all.filter((o) => o.settledAt === undefined);
  }

  get rejected(): PublishOutcome[] {
    return this.all.filter((o) => o.error !== undefined);
  }

  summary(): string {
    const errors = new Map<string, number>();
    for (const o of this.rejected) {
      const message = o.error instanceof Error ? `${o.error.name}: ${o.error.message}` : String(o.error);
      const key = message.replace(/[0-9a-f-]{36}/g, '<id>');
      errors.set(key, (errors.get(key) ?? 0) + 1);
    }
    const reasons = [...errors].map(([m, c]) => `${c} × ${m}`).join('; ');
    return `${this.all.length} started, ${this.resolvedIds.size} resolved, ${this.rejected.length} rejected, ${this.pending.length} pending${reasons ? ` (${reasons})` : ''}`;
  }
}

/** Resolves once every publish tracked so far has settled; rejects after `timeoutMs` with a summary. */
export async function allSettled(outcomes: Outcomes, running: Promise<unknown>, timeoutMs: number) {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`publishes did not all settle within ${timeoutMs} ms: ${outcomes.summary()}`)),
      timeoutMs,
    );
  });
  await Promise.race([running, late]).finally(() => clearTimeout(timer));
}

/** Polls `look` every `everyMs` until `accept` holds; the error names `what` and the last value. */
export async function pollEvery<T>(
  look: () => Promise<T>,
  accept: (value: T) => boolean,
  what: string,
  { timeoutMs = SETTLE_MS, everyMs = 200 } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await look();
    if (accept(value)) return value;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}: last ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
