import { randomFillSync } from 'node:crypto';

// Randomness comes from a pooled buffer: an id is minted on every publish (BENCHMARKS.md, design
// measurements). Layout per RFC 9562: 48-bit Unix ms, version 7, 12 bits of per-millisecond counter
// (monotonic within a process), variant, 62 random bits.
const HEX: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
const POOL_SIZE = 8 * 1024;
const pool = new Uint8Array(POOL_SIZE);
let poolOffset = POOL_SIZE;
let lastMs = -1;
let counter = 0;

function randomBytes8(): number {
  if (poolOffset + 8 > POOL_SIZE) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const at = poolOffset;
  poolOffset += 8;
  return at;
}

/**
 * A new UUID version 7: time-ordered, unique, and usable as a dedup key.
 * @example
 * uuidv7(); // '019a4f3e-6b1c-7a00-8f3e-1c2d3e4f5a6b'
 */
export function uuidv7(now: number = Date.now()): string {
  if (now > lastMs) {
    lastMs = now;
    counter = 0;
  } else if (++counter > 0xfff) {
    // More than 4096 ids in one millisecond: borrow the next millisecond to stay monotonic.
    lastMs++;
    counter = 0;
  }
  const ms = lastMs;
  const hi = Math.floor(ms / 0x10000);
  const lo = ms % 0x10000;
  const r = randomBytes8();
  const p = pool;
  return (
    HEX[(hi >>> 24) & 0xff]! +
    HEX[(hi >>> 16) & 0xff]! +
    HEX[(hi >>> 8) & 0xff]! +
    HEX[hi & 0xff]! +
    '-' +
    HEX[lo >>> 8]! +
    HEX[lo & 0xff]! +
    '-' +
    HEX[0x70 | (counter >>> 8)]! +
    HEX[counter & 0xff]! +
    '-' +
    HEX[0x80 | (p[r]! & 0x3f)]! +
    HEX[p[r + 1]!]! +
    '-' +
    HEX[p[r + 2]!]! +
    HEX[p[r + 3]!]! +
    HEX[p[r + 4]!]! +
    HEX[p[r + 5]!]! +
    HEX[p[r + 6]!]! +
    HEX[p[r + 7]!]!
  );
}

let isoMs = -1;
let isoText = '';
/** `new Date(ms).toISOString()`, computed once per millisecond: every event carries one. */
export function isoTime(ms: number = Date.now()): string {
  if (ms !== isoMs) {
    isoMs = ms;
    isoText = new Date(ms).toISOString();
  }
  return isoText;
}
