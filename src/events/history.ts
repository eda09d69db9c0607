import { describeError, TransportError, ValidationError } from '../errors.js';
import { decodeEvent, type CloudEvent } from './cloudevent.js';
import { causationOf, correlationOf } from './correlation.js';
import { isPattern, isValidPattern, typesMatching, type MatchingTypes } from './patterns.js';
import {
  unknownType,
  type EventRegistry,
  type EventSchemas,
  type EventTypeOf,
  type PayloadOf,
} from './registry.js';
import { decodePayload } from './versions.js';

/**
 * Stored history read without a consumer group: `rt.events.read(typeOrPattern, { from, to, limit })`.
 * Payloads are decoded as deliveries are (older versions upcast, then validated); a stored event
 * that cannot be decoded is skipped and counted, never thrown mid-read.
 */

/** A point in stored history: a stream sequence, or the time events were stored at. */
export type HistoryPoint = { readonly seq: number } | { readonly time: Date | string | number };

/** Options of `rt.events.read`. */
export interface ReadOptions {
  /** Where the read starts (inclusive): a sequence, or the first event stored at or after a time. */
  readonly from: HistoryPoint;
  /** Where it ends (inclusive). @default the last event stored when the read begins */
  readonly to?: HistoryPoint;
  /** At most this many events are yielded. @default no limit */
  readonly limit?: number;
  /** Ends the read early: the iterator then ends, without throwing. */
  readonly signal?: AbortSignal;
  /** Called for each stored event that is skipped because it cannot be decoded. @default none */
  readonly onSkip?: (skipped: SkippedEvent) => void;
}

/** A stored event a read skipped, and why. */
export interface SkippedEvent {
  readonly seq: number;
  readonly type: string;
  /** `'decode'`: not a CloudEvent; `'validation'`: its payload fails its type's schema (after upcasting). */
  readonly reason: 'decode' | 'validation';
  readonly error: { readonly name: string; readonly message: string };
}

/** What a history reader learns about an event besides its payload. */
export interface HistoryMeta<T extends string = string> {
  readonly id: string;
  readonly type: T;
  readonly source: string;
  readonly time: string;
  /** Stream sequence. */
  readonly seq: number;
  /** When the broker stored it (ms since the epoch). */
  readonly storedAt: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly traceparent: string | undefined;
  /** The CloudEvents extension `correlationid`, or the event's own id for a root event. */
  readonly correlationId: string;
  /** The CloudEvents extension `causationid`; undefined for a root event. */
  readonly causationId: string | undefined;
}

/** One event of history; for a pattern, a union that `type` (as `meta.type`) tells apart. */
export type HistoryEvent<S extends EventSchemas, T extends string> =
  T extends EventTypeOf<S>
    ? { readonly type: T; readonly payload: PayloadOf<S, T>; readonly meta: HistoryMeta<T> }
    : never;

/** The registered types an exact type or a pattern reads. */
export type HistoryTypes<S extends EventSchemas, P extends string> =
  string extends EventTypeOf<S> ? EventTypeOf<S> : MatchingTypes<EventTypeOf<S>, P>;

/** An async iterable of history; each `for await` reads anew. */
export interface EventHistory<E> extends AsyncIterable<E> {
  /** Events the latest iteration skipped because they could not be decoded (see `onSkip`). */
  readonly skipped: number;
}

/** `rt.events`: the event registry, plus history. */
export interface EventReader<S extends EventSchemas> {
  /**
   * Reads stored events of a type or a pattern (`order.*`) in sequence order, without a consumer
   * group; events of an older version are upcast. Copies made by replay and redrive are left out.
   * @throws {ValidationError} for an unknown type, a malformed pattern, or bad options
   * @throws {TransportError} when the transport keeps no history
   * @example
   * for await (const { payload, meta } of rt.events.read('order.placed', { from: { seq: 1 }, limit: 100 })) {
   *   console.log(meta.seq, payload);
   * }
   */
  read<P extends EventTypeOf<S> | `${string}*${string}` | `${string}>`>(
    typeOrPattern: P,
    options: ReadOptions,
  ): EventHistory<HistoryEvent<S, HistoryTypes<S, P>>>;
}

/** The registry with {@link EventReader.read}. */
export type RuntimeEvents<S extends EventSchemas> = EventRegistry<S> & EventReader<S>;

/** The range a history source is asked for (the transport's `ReadRequest`). */
export interface HistoryRange {
  readonly pattern: string;
  readonly fromSeq?: number;
  readonly fromTime?: Date;
  readonly toSeq?: number;
  readonly toTime?: Date;
  readonly signal?: AbortSignal;
}

/** A stored event as a history source yields it (the transport's `StoredEvent`). */
export interface HistoryRecord {
  readonly seq: number;
  readonly type: string;
  readonly storedAt: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly event: CloudEvent | undefined;
  readonly body: Uint8Array | string | undefined;
}

/** Where history comes from; `copyHeader` marks stored copies (replays, redrives) to leave out. */
export interface HistorySource {
  read(range: HistoryRange): AsyncIterable<HistoryRecord>;
  readonly copyHeader?: string;
}

/** A stored event decoded, or why it cannot be. */
export type DecodedRecord =
  | { readonly ok: true; readonly payload: unknown; readonly meta: HistoryMeta }
  | { readonly ok: false; readonly skipped: SkippedEvent };

function metaOf(event: CloudEvent, r: HistoryRecord): HistoryMeta {
  const { id, type, source, time } = event;
  const traceparent = event.traceparent ?? r.headers.traceparent;
  const lineage = { correlationId: correlationOf(event), causationId: causationOf(event) };
  return {
    id,
    type,
    source,
    time,
    seq: r.seq,
    storedAt: r.storedAt,
    headers: r.headers,
    traceparent,
    ...lineage,
  };
}

/**
 * The one place a stored event becomes a payload: decoded, checked against its subject's type, then
 * upcast and validated by `decodePayload`, as deliveries are.
 */
export function decodeStored(registry: EventRegistry, r: HistoryRecord): DecodedRecord {
  const skip = (reason: SkippedEvent['reason'], err: unknown): DecodedRecord => ({
    ok: false,
    skipped: { seq: r.seq, type: r.type, reason, error: describeError(err) },
  });
  let event = r.event;
  try {
    event ??= decodeEvent(r.body ?? '');
  } catch (err) {
    return skip('decode', err);
  }
  if (event.type !== r.type)
    return skip(
      'validation',
      new ValidationError(`event type "${event.type}" does not match its subject's type "${r.type}"`),
    );
  const decoded = decodePayload(registry, event);
  if (!decoded.ok) return skip('validation', decoded.error);
  return { ok: true, payload: decoded.payload, meta: metaOf(event, r) };
}

function bad(message: string): ValidationError {
  return new ValidationError(`events.read: ${message}`);
}

/** @throws {ValidationError} for a type that is not registered or a pattern that matches none */
function checkTarget(registry: EventRegistry, target: string): void {
  if (!isPattern(target)) {
    if (!registry.has(target)) throw unknownType(target);
  } else if (!isValidPattern(target)) {
    throw bad(`"${target}" is not a valid pattern: '*' and '>' stand for whole tokens, '>' last`);
  } else if (typesMatching(target, registry.types).length === 0) {
    throw bad(`pattern "${target}" matches no registered event type`);
  }
}

/** @throws {ValidationError} for a point that is neither a positive sequence nor a valid time */
function pointOf(point: HistoryPoint | undefined, what: string): { seq?: number; time?: Date } {
  if (typeof point !== 'object' || point === null) throw bad(`${what} must be { seq } or { time }`);
  if ('seq' in point) {
    if (!Number.isSafeInteger(point.seq) || point.seq < 1)
      throw bad(`${what}.seq must be a positive integer`);
    return { seq: point.seq };
  }
  const time = 'time' in point ? new Date(point.time) : new Date(Number.NaN);
  if (Number.isNaN(time.getTime())) throw bad(`${what}.time must be a valid date`);
  return { time };
}

/** @throws {ValidationError} for bad options */
export function historyRange(target: string, o: ReadOptions): HistoryRange {
  if (o.limit !== undefined && (!Number.isSafeInteger(o.limit) || o.limit < 0))
    throw bad('limit must be a non-negative integer');
  const from = pointOf(o.from, 'from');
  const to = o.to === undefined ? {} : pointOf(o.to, 'to');
  return {
    pattern: target,
    ...(from.seq !== undefined && { fromSeq: from.seq }),
    ...(from.time !== undefined && { fromTime: from.time }),
    ...(to.seq !== undefined && { toSeq: to.seq }),
    ...(to.time !== undefined && { toTime: to.time }),
    ...(o.signal !== undefined && { signal: o.signal }),
  };
}

class History<E> implements EventHistory<E> {
  skipped = 0;

  constructor(
    private readonly registry: EventRegistry,
    private readonly source: HistorySource,
    private readonly range: HistoryRange,
    private readonly o: ReadOptions,
  ) {}

  [Symbol.asyncIterator](): AsyncIterator<E> {
    return this.iterate();
  }

  private async *iterate(): AsyncGenerator<E> {
    this.skipped = 0;
    let left = this.o.limit ?? Number.POSITIVE_INFINITY;
    if (left === 0) return;
    const copy = this.source.copyHeader;
    // The limit counts what is yielded, so the source is not given it: skipped events do not count.
    for await (const record of this.source.read(this.range)) {
      if (this.o.signal?.aborted) return;
      if (copy !== undefined && record.headers[copy] !== undefined) continue;
      const decoded = decodeStored(this.registry, record);
      if (!decoded.ok) {
        this.skipped++;
        this.o.onSkip?.(decoded.skipped);
        continue;
      }
      const { payload, meta } = decoded;
      yield { type: meta.type, payload, meta } as E;
      if (--left === 0) return;
    }
  }
}

/**
 * `rt.events`: `registry` with `read` added; every registry member is the registry's own.
 * @param source - where history comes from (the runtime's transport); undefined when it keeps none
 * @example
 * const events = withHistory(registry, { read: (range) => transport.read!(range) });
 */
export function withHistory<S extends EventSchemas>(
  registry: EventRegistry<S>,
  source: HistorySource | undefined,
): RuntimeEvents<S> {
  // Reading needs no payload types: the registry of any schemas is the registry.
  const plain = registry as unknown as EventRegistry;
  const reader: EventReader<S> = {
    read(target, options) {
      checkTarget(plain, target);
      const range = historyRange(target, options);
      if (!source) throw new TransportError("events.read: this runtime's transport keeps no history");
      return new History(plain, source, range, options);
    },
  };
  return Object.freeze(Object.assign(Object.create(registry) as EventRegistry<S>, reader));
}
