import type { CloudEvent } from '../../events/cloudevent.js';
import { heapSize } from './heap-size.js';

/**
 * Heap bytes a stored message holds besides its event: the message itself, its ring slot, and
 * strings the publisher built by concatenation (ids, times), which V8 keeps as cons strings.
 * Calibrated so that estimates land within ~15% of the measured heap on typical events.
 */
export const MESSAGE_OVERHEAD = 320;
/** Events of a type between two measured ones (the first one is always measured). */
const SAMPLE_EVERY = 64;

/**
 * The estimated heap bytes of one type's events, for retention budgets: every 64th event is
 * measured with {@link heapSize} (a bounded walk) and the type's running average stands for
 * the others, so a publish costs no walk and no stringify. Raw bodies are measured exactly.
 */
export class SizeEstimate {
  private countdown = 0;
  private average = 0;

  /** @returns the estimated bytes of a stored event with these headers */
  ofEvent(event: CloudEvent, headers: Readonly<Record<string, string>>): number {
    if (--this.countdown < 0) {
      this.countdown = SAMPLE_EVERY - 1;
      const measured = MESSAGE_OVERHEAD + heapSize(event) + heapSize(headers);
      // A running average: one odd event moves it by an eighth of the difference.
      this.average = this.average === 0 ? measured : Math.round(this.average + (measured - this.average) / 8);
    }
    return this.average;
  }
}

/** @returns the bytes of a stored raw body with these headers (exact for the body, no sampling) */
export function rawSize(body: Uint8Array | string, headers: Readonly<Record<string, string>>): number {
  return MESSAGE_OVERHEAD + heapSize(body) + heapSize(headers);
}
