import { ValidationError } from '../errors.js';
import { KvConflictError, type KeyValueStore, type KvEntry } from '../transport/key-value.js';

/**
 * A lease as it sits in the bucket: key `lock.<name>`, value `{ holder, ttlMs }`. It expires `ttlMs`
 * after the entry was written, both measured on the store's clock (the NATS server's: an entry's
 * `created` is stamped by the stream's leader), so instances whose clocks disagree still agree on
 * expiry. A holder renews by compare-and-set on the revision it wrote last; an acquirer takes an
 * expired lease by compare-and-set on the revision it read. The fencing token is the revision of the
 * write that acquired the lease: revisions only grow within a bucket, so each holder's token is
 * larger than every earlier holder's (until the bucket itself is deleted).
 */

/** What a lease entry holds. */
export interface LeaseValue {
  /** Who holds it: one id per acquisition, so two locks in one process are two holders. */
  readonly holder: string;
  /** How long after the entry's write the lease expires. */
  readonly ttlMs: number;
}

/** The key whose writes tell the store's time: see {@link storeNow}. */
const CLOCK_KEY = 'clock';
const NAME = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;
const MAX_NAME = 200;
/** The shortest lease: renewal runs every third of it. */
export const MIN_TTL_MS = 10;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** @returns the bucket locks live in, named after the transport's namespace */
export function locksBucket(namespace = 'bulwark'): string {
  return `${namespace.replace(/[^-_a-zA-Z0-9]/g, '_')}_locks`;
}

/** @returns the key of lock `name` */
export function leaseKey(name: string): string {
  return `lock.${name}`;
}

export function encodeLease(value: LeaseValue): Uint8Array {
  return encoder.encode(JSON.stringify(value));
}

/** @returns the lease, or one that has already expired when the value is not a lease (nobody can hold it) */
export function decodeLease(bytes: Uint8Array): LeaseValue {
  try {
    const v = JSON.parse(decoder.decode(bytes)) as Partial<LeaseValue>;
    if (typeof v.holder === 'string' && typeof v.ttlMs === 'number')
      return { holder: v.holder, ttlMs: v.ttlMs };
  } catch {
    // not JSON: falls through
  }
  return { holder: '', ttlMs: 0 };
}

/** Options of `rt.lock` and `rt.withLock`. */
export interface LockOptions {
  /** How long the lease lasts unless renewed; renewed every third of it while the holder lives. */
  readonly ttlMs: number;
  /** How long to wait for a held lock to be released or to expire. @default 0 (try once) */
  readonly waitMs?: number;
}

/** @throws {ValidationError} for a name that cannot be a key, or options out of range */
export function checkLock(name: string, o: LockOptions): void {
  if (typeof name !== 'string' || name.length > MAX_NAME || !NAME.test(name))
    throw new ValidationError(
      `lock name "${String(name)}" must be dot-separated tokens of letters, digits, '-' or '_'`,
    );
  if (typeof o !== 'object' || o === null || !Number.isSafeInteger(o.ttlMs) || o.ttlMs < MIN_TTL_MS)
    throw new ValidationError(`lock "${name}": ttlMs must be an integer of at least ${MIN_TTL_MS}`);
  if (o.waitMs !== undefined && (!Number.isFinite(o.waitMs) || o.waitMs < 0))
    throw new ValidationError(`lock "${name}": waitMs must be a non-negative number`);
}

/**
 * The store's time now: a write, read back for its `created` stamp. Never later than the store's
 * real time when the read returns, so a lease judged expired by it has expired.
 */
export async function storeNow(kv: KeyValueStore): Promise<number> {
  await kv.put(CLOCK_KEY, new Uint8Array(0));
  const created = (await kv.get(CLOCK_KEY))?.created;
  if (created === undefined) throw new Error(`bucket ${kv.bucket} does not stamp its entries' time`);
  return created;
}

/** The outcome of one try: the lease's write, or how long the current lease has left. */
export type Attempt =
  | { readonly acquired: true; readonly revision: number }
  | { readonly acquired: false; readonly leftMs: number };

function written(write: Promise<number>): Promise<Attempt> {
  return write.then(
    (revision): Attempt => ({ acquired: true, revision }),
    (err: unknown) => {
      // Someone else wrote first: look again at once.
      if (err instanceof KvConflictError) return { acquired: false, leftMs: 0 };
      throw err;
    },
  );
}

function leftOf(entry: KvEntry, now: number): number {
  return (entry.created ?? 0) + decodeLease(entry.value).ttlMs - now;
}

/**
 * One try at lock `key`: creates a missing lease, takes over an expired one, or tells how long the
 * current one has left (on the store's clock).
 */
export async function tryAcquire(kv: KeyValueStore, key: string, value: LeaseValue): Promise<Attempt> {
  const entry = await kv.get(key);
  if (!entry) return written(kv.create(key, encodeLease(value)));
  const leftMs = leftOf(entry, await storeNow(kv));
  if (leftMs > 0) return { acquired: false, leftMs };
  return written(kv.update(key, encodeLease(value), entry.revision));
}
