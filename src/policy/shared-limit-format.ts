import { ValidationError } from '../errors.js';
import type { KvEntry } from '../transport/key-value.js';
import { TokenBucket } from './token-bucket.js';

/**
 * How shared rate limiters keep their budgets in a key-value bucket: one JSON value per budget
 * under its name, `{ "u": units, "t": lastRefillMs }` (see TokenBucket for the units).
 */

/** The bucket shared rate limiters keep their budgets in; one key per `shared` name. */
export const SHARED_LIMIT_BUCKET = 'bulwark_rate_limits';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * @returns the key of the budget `name`
 * @throws {ValidationError} when `name` is not a valid key (letters, digits, `-`, `_`, `=`, dots between tokens)
 */
export function sharedLimitKey(name: string): string {
  if (!/^[A-Za-z0-9_=-]+(\.[A-Za-z0-9_=-]+)*$/.test(name)) {
    throw new ValidationError(
      `shared rate limit name "${name}" must be dot-separated letters, digits, - _ =`,
    );
  }
  return name;
}

/** @returns the budget stored in `entry`, or a full one when there is none (or it is unreadable) */
export function decodeBucket(
  entry: KvEntry | null | undefined,
  limit: number,
  intervalMs: number,
  now: number,
): TokenBucket {
  const bucket = new TokenBucket(limit, intervalMs, now);
  if (!entry || entry.operation !== 'PUT') return bucket;
  try {
    const { u, t } = JSON.parse(decoder.decode(entry.value)) as { u?: unknown; t?: unknown };
    if (typeof u === 'number' && typeof t === 'number' && Number.isFinite(u) && Number.isFinite(t)) {
      bucket.units = Math.min(u, limit * intervalMs);
      bucket.last = t;
    }
  } catch {
    // An unreadable value is overwritten by the next token taken.
  }
  return bucket;
}

/** @returns the bytes of a budget as the bucket stores it */
export function encodeBucket(bucket: TokenBucket): Uint8Array {
  return encoder.encode(JSON.stringify({ u: bucket.units, t: bucket.last }));
}
