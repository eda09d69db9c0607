import type { TypeStream } from './type-stream.js';

/** What the memory transport holds now, in events and estimated heap bytes. */
export interface MemoryUsage {
  /** Events every consumer has passed, kept for replay and later groups. */
  readonly retained: number;
  /** Their estimated heap bytes (what `retainBytes` bounds). */
  readonly retainedBytes: number;
  /** Events some consumer has yet to be given (what `maxBacklog` bounds per consumer). */
  readonly pending: number;
}

const NOTHING: MemoryUsage = Object.freeze({ retained: 0, retainedBytes: 0, pending: 0 });

/** @returns what one type's stream holds (nothing for a type never seen) */
export function streamUsage(stream: TypeStream | undefined): MemoryUsage {
  if (!stream) return NOTHING;
  return { retained: stream.retained, retainedBytes: stream.retainedBytes, pending: stream.pending };
}

/** @returns what the streams hold together */
export function totalUsage(streams: Iterable<TypeStream>): MemoryUsage {
  let retained = 0;
  let retainedBytes = 0;
  let pending = 0;
  for (const s of streams) {
    retained += s.retained;
    retainedBytes += s.retainedBytes;
    pending += s.pending;
  }
  return { retained, retainedBytes, pending };
}
