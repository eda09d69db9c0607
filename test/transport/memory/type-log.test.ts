import { describe, expect, it } from 'vitest';
import { StoredMessage, TypeLog } from '../../../src/transport/memory/type-log.js';

const msg = (seq: number): StoredMessage =>
  new StoredMessage(seq, 't', seq * 10, undefined, undefined, String(seq), {}, 1);

describe('TypeLog', () => {
  it('keeps absolute positions as messages are appended and dropped', () => {
    const log = new TypeLog();
    for (let i = 0; i < 100; i++) log.append(msg(i));
    for (let i = 0; i < 40; i++) expect(log.dropFirst().seq).toBe(i);
    expect([log.start, log.end, log.size]).toEqual([40, 100, 60]);
    expect(log.at(39)).toBeUndefined();
    expect(log.at(40)?.seq).toBe(40);
    expect(log.at(99)?.seq).toBe(99);
    expect(log.at(100)).toBeUndefined();
  });

  it('wraps around its ring and grows without losing order', () => {
    const log = new TypeLog();
    let next = 0;
    // Appends and drops interleaved, so the ring wraps many times while it grows to 300.
    for (let round = 0; round < 300; round++) {
      log.append(msg(next++));
      log.append(msg(next++));
      log.dropFirst();
    }
    expect(log.size).toBe(300);
    for (let pos = log.start; pos < log.end; pos++) expect(log.at(pos)?.seq).toBe(pos);
  });

  it('finds the first position matching a monotone predicate among the stored ones', () => {
    const log = new TypeLog();
    for (let i = 0; i < 50; i++) log.append(msg(i));
    for (let i = 0; i < 10; i++) log.dropFirst();
    expect(log.firstPosition((m) => m.seq >= 25)).toBe(25);
    expect(log.firstPosition((m) => m.time >= 0)).toBe(10); // older ones are gone
    expect(log.firstPosition(() => false)).toBe(50);
  });

  it('gives its ring back as it empties', () => {
    const log = new TypeLog();
    for (let i = 0; i < 10_000; i++) log.append(msg(i));
    for (let i = 0; i < 10_000; i++) log.dropFirst();
    expect(log.capacity).toBeLessThanOrEqual(16);
    expect(log.at(9_999)).toBeUndefined();
  });
});
