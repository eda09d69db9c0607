import { decodeEvent, type CloudEvent } from '../events/cloudevent.js';
import type { Logger } from '../logging.js';
import type { ConsumerHandle, Delivery, ReplayFrom, StoredEvent, Transport } from '../transport/transport.js';
import { GatewayEvent } from './frames.js';
import { covers } from './scope.js';

/** What a gateway reads events from. */
export interface SourceContext {
  readonly transport: Transport;
  /** Every registered event type. */
  readonly types: readonly string[];
  /** This gateway's consumers are its own (broadcast): every instance serves its own browsers. */
  readonly instanceId: string;
  readonly logger: Logger;
}

const GROUP = 'bulwark-gateway';
const RETRY_MS = [250, 1_000, 5_000, 15_000] as const;

/** The CloudEvent of a delivery or a stored event. @throws {DecodeError} for bytes that are not one */
export function eventOf(m: Pick<Delivery | StoredEvent, 'event' | 'body'>): CloudEvent {
  return m.event ?? decodeEvent(m.body ?? '');
}

/** The patterns to consume: each once, without those another one covers (`order.placed` under `order.*`). */
export function consumedPatterns(patterns: readonly string[]): string[] {
  const unique = [...new Set(patterns)];
  return unique.filter((p) => !unique.some((q) => q !== p && covers(q, p)));
}

/**
 * The gateway's live feed: one broadcast consumer per pattern, starting at new events. Every
 * delivery is acknowledged at once (a browser is no reason to redeliver); a consumer that fails is
 * started again after its last sequence, with backoff.
 */
export class GatewaySource {
  private readonly handles = new Map<string, ConsumerHandle>();
  private readonly lastSeq = new Map<string, number>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private closed = false;

  constructor(
    private readonly ctx: SourceContext,
    private readonly onEvent: (e: GatewayEvent) => void,
  ) {}

  /**
   * Starts consuming; resolves once every consumer is ready.
   * @throws {ValidationError}-like errors of the transport when a consumer cannot start
   */
  async start(patterns: readonly string[]): Promise<void> {
    await Promise.all(consumedPatterns(patterns).map((pattern) => this.consume(pattern, 'new', 0)));
  }

  private consume(pattern: string, from: ReplayFrom, failures: number): Promise<void> {
    const { transport, instanceId } = this.ctx;
    const handle = transport.consume(
      { type: pattern, group: GROUP, mode: 'broadcast', maxInFlight: 256, from, instanceId },
      {
        deliver: (d) => this.deliver(pattern, d),
        failed: (err) => this.failed(pattern, err, failures + 1),
      },
    );
    this.handles.set(pattern, handle);
    return handle.ready;
  }

  private deliver(pattern: string, d: Delivery): void {
    d.ack();
    if (this.closed || d.seq === undefined) return;
    this.lastSeq.set(pattern, d.seq);
    let event: CloudEvent;
    try {
      event = eventOf(d);
    } catch (err) {
      this.ctx.logger.warn(
        { err, type: d.type, seq: d.seq },
        'gateway skipped an event that is not a CloudEvent',
      );
      return;
    }
    this.onEvent(new GatewayEvent(d.seq, event));
  }

  private failed(pattern: string, err: Error, failures: number): void {
    if (this.closed) return;
    const delay = RETRY_MS[Math.min(failures, RETRY_MS.length) - 1]!;
    this.ctx.logger.warn({ err, pattern, retryInMs: delay }, 'gateway consumer failed; starting it again');
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (this.closed) return;
      const last = this.lastSeq.get(pattern);
      this.consume(pattern, last === undefined ? 'new' : { seq: last + 1 }, failures).catch((e: unknown) =>
        this.failed(pattern, e as Error, failures + 1),
      );
    }, delay);
    this.timers.add(timer);
  }

  /**
   * Stored events of `patterns` after `afterSeq`, oldest first; empty where the transport keeps no
   * history (`read` absent). Events that cannot be decoded are skipped.
   */
  async *history(
    patterns: readonly string[],
    afterSeq: number,
    signal: AbortSignal,
  ): AsyncGenerator<GatewayEvent> {
    const read = this.ctx.transport.read?.bind(this.ctx.transport);
    if (!read) return;
    const reads = patterns.map((pattern) => read({ pattern, fromSeq: afterSeq + 1, signal }));
    yield* mergeBySeq(
      reads.map((r) => r[Symbol.asyncIterator]()),
      (m) => this.decoded(m),
    );
  }

  private decoded(m: StoredEvent): GatewayEvent | undefined {
    try {
      return new GatewayEvent(m.seq, eventOf(m));
    } catch {
      return undefined;
    }
  }

  /** Stops every consumer and retry; idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    const handles = [...this.handles.values()];
    this.handles.clear();
    await Promise.all(handles.map((h) => h.stop()));
  }
}

/** Merges sorted iterators by `seq`, dropping a seq seen twice (overlapping patterns). */
async function* mergeBySeq(
  its: AsyncIterator<StoredEvent>[],
  map: (m: StoredEvent) => GatewayEvent | undefined,
): AsyncGenerator<GatewayEvent> {
  const heads = await Promise.all(its.map((it) => it.next()));
  try {
    yield* drain(its, heads, map);
  } finally {
    await Promise.all(its.map(async (it) => it.return?.()));
  }
}

async function* drain(
  its: AsyncIterator<StoredEvent>[],
  heads: IteratorResult<StoredEvent>[],
  map: (m: StoredEvent) => GatewayEvent | undefined,
): AsyncGenerator<GatewayEvent> {
  let last = -1;
  for (;;) {
    let k = -1;
    for (let i = 0; i < heads.length; i++) {
      const h = heads[i]!;
      if (!h.done && (k < 0 || h.value.seq < (heads[k]!.value as StoredEvent).seq)) k = i;
    }
    if (k < 0) return;
    const m = heads[k]!.value as StoredEvent;
    heads[k] = await its[k]!.next();
    if (m.seq === last) continue;
    last = m.seq;
    const e = map(m);
    if (e) yield e;
  }
}
