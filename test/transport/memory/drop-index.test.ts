import { describe, expect, it } from 'vitest';
import { DropIndex } from '../../../src/transport/memory/drop-index.js';
import { StoredMessage } from '../../../src/transport/memory/type-log.js';

/** Drops `n` messages at positions 0..n-1 with sequences 2, 4, 6… and times 1000, 1010, … */
function dropped(n: number): DropIndex {
  const index = new DropIndex();
  for (let pos = 0; pos < n; pos++) {
    index.dropped(
      pos,
      new StoredMessage(2 * (pos + 1), 't', 1000 + 10 * pos, undefined, undefined, '', {}, 1),
    );
  }
  return index;
}

describe('DropIndex', () => {
  it('counts exactly what a start sequence or time missed while few were dropped', () => {
    const index = dropped(50);
    expect(index.sinceSeq(2, 50)).toEqual({ count: 50, exact: true });
    expect(index.sinceSeq(41, 50)).toEqual({ count: 30, exact: true }); // seqs 42..100
    expect(index.sinceSeq(101, 50)).toEqual({ count: 0, exact: true });
    expect(index.sinceTime(1000 + 10 * 45, 50)).toEqual({ count: 5, exact: true });
  });

  it('gives a lower bound within one stride once it has thinned its samples', () => {
    const n = 100_000;
    const index = dropped(n);
    const seq = 2 * 60_001; // the message at position 60,000 and every later one
    const missed = index.sinceSeq(seq, n);
    expect(missed.count).toBeLessThanOrEqual(n - 60_000);
    expect(missed.count).toBeGreaterThan(n - 60_000 - n / 32);
    expect(index.sinceSeq(2, n)).toEqual({ count: n, exact: true });
  });

  it('says at least one when only messages after the last sample match', () => {
    const n = 1_000;
    const index = dropped(n);
    expect(index.sinceSeq(2 * n, n)).toMatchObject({ count: 1 });
  });
});
