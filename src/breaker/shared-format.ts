import type { CircuitBreakerStateName } from '../machines/circuit-breaker.machine.js';
import type { KeyValueStore, KvEntry } from '../transport/key-value.js';

/**
 * How shared breakers keep their state in a key-value bucket: one JSON value per breaker under
 * `<service>.<breaker>`. Breakers, the CLI and anything else that reads or writes the bucket go
 * through this module, so the format lives in one place.
 */

/**
 * The bucket of the default prefix (`bulwark`), and the one every prefix shared before buckets were
 * named per prefix: still read (never created) for one release, so that breakers forced there keep
 * their state. Use {@link sharedBreakerBucket} for a prefix's own.
 */
export const SHARED_BREAKER_BUCKET = 'bulwark_breakers';

/** The bucket every prefix shared before buckets were named per prefix. */
export const LEGACY_SHARED_BREAKER_BUCKET = 'bulwark_breakers';

/**
 * The bucket shared breakers keep their state in, one per transport prefix so that environments
 * sharing a server do not share breakers; keys are `<service>.<breaker>`.
 * @param prefix - the transport's prefix (`transport.namespace`) @default 'bulwark'
 * @example
 * sharedBreakerBucket('shop'); // 'shop_breakers'
 */
export function sharedBreakerBucket(prefix = 'bulwark'): string {
  return `${prefix.replace(/[^-_a-zA-Z0-9]/g, '_')}_breakers`;
}

/** One breaker's state as every instance sees it in the bucket. */
export interface SharedValue {
  /** The machine state of whoever wrote it. */
  readonly s: CircuitBreakerStateName;
  /** When the OPEN period began (ms since the epoch). */
  readonly at?: number;
  /** The writing instance. */
  readonly by: string;
  /** Written by `open()`, `close()` or `reset()`. */
  readonly manual?: boolean;
  /** The HALF_OPEN trial is claimed by `by` until `until` (ms since the epoch). */
  readonly trial?: { readonly by: string; readonly until: number };
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** @returns the value of a bucket entry, or undefined for a deleted key or a value that is not one */
export function decodeShared(entry: KvEntry | null): SharedValue | undefined {
  if (!entry || entry.operation !== 'PUT') return undefined;
  try {
    return JSON.parse(decoder.decode(entry.value)) as SharedValue;
  } catch {
    return undefined;
  }
}

/** @returns the bytes of a value as the bucket stores it */
export function encodeShared(value: SharedValue): Uint8Array {
  return encoder.encode(JSON.stringify(value));
}

/** NATS KV keys allow letters, digits and `-/_=.`; anything else becomes `_`. */
export function sharedKey(service: string, name: string): string {
  return `${service}.${name}`.replace(/[^-/_=.a-zA-Z0-9]/g, '_');
}

/** One shared breaker as the bucket holds it. */
export interface SharedBreaker {
  readonly key: string;
  readonly value: SharedValue;
}

/**
 * Reads every shared breaker in the bucket (of one service, when given), sorted by key.
 * @throws when the bucket cannot be read
 */
export async function listShared(kv: KeyValueStore, service?: string): Promise<SharedBreaker[]> {
  const keys = (await kv.keys()).filter((k) => service === undefined || k.startsWith(`${service}.`)).sort();
  const out: SharedBreaker[] = [];
  for (const key of keys) {
    const value = decodeShared(await kv.get(key));
    if (value) out.push({ key, value });
  }
  return out;
}

/** What an operator can do to a shared breaker from outside: every instance sharing it follows. */
export type ManualAction = 'open' | 'close' | 'reset';

const MANUAL_STATES = { open: 'FORCED_OPEN', close: 'FORCED_CLOSED', reset: 'CLOSED' } as const;

/**
 * Writes a manual state for the shared breaker `key`, as `breaker.open()`, `close()` and `reset()`
 * do on an instance; `by` names the writer.
 * @returns the value written, or undefined when no breaker has that key
 */
export async function writeManual(
  kv: KeyValueStore,
  key: string,
  action: ManualAction,
  by: string,
  now: number,
): Promise<SharedValue | undefined> {
  if (!decodeShared(await kv.get(key))) return undefined;
  const value: SharedValue = {
    s: MANUAL_STATES[action],
    ...(action === 'open' && { at: now }),
    by,
    manual: true,
  };
  await kv.put(key, encodeShared(value));
  return value;
}
