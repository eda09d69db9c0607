import type { Clock } from '../../time/clock.js';

/** Options of `memoryTransport`. */
export interface MemoryTransportOptions {
  /** Subject prefix, as on NATS: subjects read `<prefix>.events.<type>`. @default 'bulwark' */
  prefix?: string;
  /** Re-publishes of an event id within this window are reported as duplicates. @default 120_000 */
  duplicateWindowMs?: number;
  /** The most event ids remembered for dedup; older ones are forgotten first. @default 100_000 */
  duplicateWindowMaxIds?: number;
  /**
   * Events one group (or broadcast instance) may lag behind: undelivered events of a type stay in
   * memory until that consumer takes them, so once one consumer of a type is this far behind,
   * publishes of that type reject with `BackpressureError` (other types keep publishing) until it
   * is back within three quarters of the bound. A stopped group with no subscriber keeps its place,
   * as a durable consumer does. Around 700 bytes a small event: 100,000 is ~70 MB per consumer.
   * @default 100_000
   */
  maxBacklog?: number;
  /**
   * Bytes of events every consumer has passed that are kept, across all types, for replay and for
   * groups that subscribe later; the oldest go first, whatever their type. Bytes are estimated heap
   * bytes: a bounded walk of one event in 64 per type, averaged (raw bodies are measured exactly).
   * @default 33_554_432 (32 MiB)
   */
  retainBytes?: number;
  /**
   * A per-type cap on the events kept once every consumer has passed them, within `retainBytes`.
   * A group that subscribes later from `'all'` gets what is kept; the transport logs a warning and
   * adds a notice to `status()` when retention had dropped older events.
   * @default 1_000
   */
  retainPerType?: number;
  /** @default the system clock */
  clock?: Clock;
}

/** Options with their defaults applied. */
export interface MemoryLimits {
  readonly maxBacklog: number;
  readonly resumeAt: number;
  readonly retainBytes: number;
  readonly retainPerType: number;
}

/** @returns the limits `options` ask for, defaults filled in */
export function memoryLimits(options: MemoryTransportOptions): MemoryLimits {
  const maxBacklog = Math.max(1, options.maxBacklog ?? 100_000);
  return {
    maxBacklog,
    resumeAt: maxBacklog - Math.max(1, maxBacklog >> 2),
    retainBytes: Math.max(0, options.retainBytes ?? 32 * 1024 * 1024),
    retainPerType: Math.max(0, options.retainPerType ?? 1_000),
  };
}
