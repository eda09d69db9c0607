import { AsyncLocalStorage } from 'node:async_hooks';
import { pino } from 'pino';
import type { Logger } from '../logging.js';
import type { CloudEvent } from './cloudevent.js';

/**
 * Correlation and causation ids. Every event belongs to a chain started by one root event; the
 * chain's id (`correlationid`) is the root's id, as CloudEvents practice has it, and each event
 * names the event whose handler published it (`causationid`). A publish inside a handler inherits
 * both from the event being handled; publish options override them.
 */

/** The CloudEvents extension attribute carrying the chain's id (lowercase alphanumerics, as the spec requires). */
export const CORRELATION_EXTENSION = 'correlationid';
/** The CloudEvents extension attribute carrying the id of the event whose handler published this one. */
export const CAUSATION_EXTENSION = 'causationid';

/** Ids of a new event, as publish options give them. */
export interface LineageOptions {
  /** The chain this event belongs to. @default inherited from the event being handled, else none */
  correlationId?: string;
  /** The event that caused this one. @default the id of the event being handled, else none */
  causationId?: string;
}

/** The extension attributes a new event carries; absent keys are not set. */
export interface Lineage {
  readonly correlationid?: string;
  readonly causationid?: string;
}

// The event whose handler is running: what a publish inside it descends from. An async handler
// carries it through its awaits (AsyncLocalStorage); a synchronous call only needs it while it
// runs, which a plain slot gives without the promise hooks that async context costs on Node 20.
const handling = new AsyncLocalStorage<CloudEvent>();
let running: CloudEvent | undefined;

/**
 * Runs `fn(...args)` with `event` as the event being handled while it runs (no closure needed on
 * the hot path): what a synchronous handler, a filter or a settle needs.
 */
export function runHandling<A extends unknown[], R>(event: CloudEvent, fn: (...args: A) => R, ...args: A): R {
  const outer = running;
  running = event;
  try {
    return fn(...args);
  } finally {
    running = outer;
  }
}

/** Runs `fn(...args)` with `event` as the event being handled through every await of what it starts. */
export function runHandlingAsync<A extends unknown[], R>(
  event: CloudEvent,
  fn: (...args: A) => R,
  ...args: A
): R {
  return handling.run(event, fn, ...args);
}

/**
 * Runs `fn(...args)` outside any handled event: work not caused by the event whose handler
 * scheduled it (a batch of many events, a delivery woken by an ack) must not inherit its ids.
 */
export function runOutsideHandling<A extends unknown[], R>(fn: (...args: A) => R, ...args: A): R {
  const outer = running;
  running = undefined;
  try {
    return handling.getStore() === undefined ? fn(...args) : handling.exit(fn, ...args);
  } finally {
    running = outer;
  }
}

/** @returns the event whose handler is running in this async context, if any */
export function handledEvent(): CloudEvent | undefined {
  return running ?? handling.getStore();
}

/** @returns the chain id of an event: its `correlationid`, or its own id when it starts a chain */
export function correlationOf(event: CloudEvent): string {
  const c = event[CORRELATION_EXTENSION];
  return typeof c === 'string' && c !== '' ? c : event.id;
}

/** @returns the id of the event whose handler published `event`, if one did */
export function causationOf(event: CloudEvent): string | undefined {
  const c = event[CAUSATION_EXTENSION];
  return typeof c === 'string' && c !== '' ? c : undefined;
}

/**
 * The ids a new event carries: those given, else those inherited from the event being handled.
 * @returns undefined when there are none (a root event published outside any handler)
 */
export function lineage(options: LineageOptions | undefined): Lineage | undefined {
  const parent = handledEvent();
  const correlationid = options?.correlationId ?? (parent && correlationOf(parent));
  const causationid = options?.causationId ?? parent?.id;
  if (correlationid === undefined && causationid === undefined) return undefined;
  return {
    ...(correlationid !== undefined && { correlationid }),
    ...(causationid !== undefined && { causationid }),
  };
}

type LogFormatter = (object: object) => object;

/**
 * A child of `logger` whose every line written while a handler runs carries the handled event's
 * `eventId`, `correlationId` and, when it has one, `causationId`. Composed with the logger's own
 * `formatters.log`, as pino's `mixin` is a root-only option.
 * @example
 * const logger = withCorrelationFields(pino());
 * // inside a handler: {"eventId":"…","correlationId":"…","causationId":"…","msg":"…"}
 */
export function withCorrelationFields(logger: Logger): Logger {
  const inherited = (logger as unknown as Record<symbol, { log?: LogFormatter } | undefined>)[
    pino.symbols.formattersSym
  ]?.log;
  const log: LogFormatter = (object) => {
    const base = inherited ? inherited(object) : object;
    const event = handledEvent();
    if (event === undefined) return base;
    const causationId = causationOf(event);
    const fields = { eventId: event.id, correlationId: correlationOf(event) };
    return causationId === undefined ? { ...fields, ...base } : { ...fields, causationId, ...base };
  };
  return logger.child({}, { formatters: { log } });
}
