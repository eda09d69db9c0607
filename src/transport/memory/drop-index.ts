import type { StoredMessage } from './type-log.js';

/** Samples kept at most; when full, every other one goes and the stride doubles. */
const SAMPLES = 64;

/** How many dropped messages a start point asked for: exact, or at least `count`. */
export interface Missed {
  readonly count: number;
  readonly exact: boolean;
}

const NONE: Missed = Object.freeze({ count: 0, exact: true });

/**
 * Where one type's dropped messages were, sampled: the position, sequence and time of every
 * `stride`-th one (at most {@link SAMPLES}). Enough to tell a group that starts from a sequence or
 * a time how many events retention had dropped from under it, exactly while few were dropped and
 * within one stride after that, in bounded memory.
 */
export class DropIndex {
  private readonly positions: number[] = [];
  private readonly seqs: number[] = [];
  private readonly times: number[] = [];
  private stride = 1;
  private lastSeq = -1;
  private lastTime = -Infinity;

  /** Notes that the message at `pos` was dropped (called in position order). */
  dropped(pos: number, msg: StoredMessage): void {
    this.lastSeq = msg.seq;
    this.lastTime = msg.time;
    if (pos % this.stride !== 0) return;
    this.positions.push(pos);
    this.seqs.push(msg.seq);
    this.times.push(msg.time);
    if (this.positions.length === SAMPLES) this.thin();
  }

  /**
   * @param end - how many messages were dropped (the log's start)
   * @returns how many dropped messages had a sequence of at least `seq`
   */
  sinceSeq(seq: number, end: number): Missed {
    return this.lastSeq < seq ? NONE : this.count(this.seqs, seq, end);
  }

  /** @returns how many dropped messages were stored at or after `time` (epoch ms) */
  sinceTime(time: number, end: number): Missed {
    return this.lastTime < time ? NONE : this.count(this.times, time, end);
  }

  /** The boundary lies after the last sample below `bound` and at or before the next one. */
  private count(keys: readonly number[], bound: number, end: number): Missed {
    let k = 0;
    while (k < keys.length && keys[k]! < bound) k++;
    const after = k > 0 ? this.positions[k - 1]! + 1 : 0;
    const at = k < keys.length ? this.positions[k]! : end - 1;
    return { count: end - at, exact: at === after };
  }

  private thin(): void {
    this.stride *= 2;
    let kept = 0;
    for (let i = 0; i < this.positions.length; i++) {
      if (this.positions[i]! % this.stride !== 0) continue;
      this.positions[kept] = this.positions[i]!;
      this.seqs[kept] = this.seqs[i]!;
      this.times[kept++] = this.times[i]!;
    }
    this.positions.length = this.seqs.length = this.times.length = kept;
  }
}
