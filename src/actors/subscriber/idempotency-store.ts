import { KvConflictError, type KeyValueStore } from '../../transport/key-value.js';
import type { Transport } from '../../transport/transport.js';
import { utf8Bytes } from '../../bytes.js';

/** What a key holds: a run in progress (`run`) or a success (`done`), each until `exp` (ms since the epoch). */
interface Mark {
  readonly s: 'run' | 'done';
  readonly exp: number;
}

/** How often one event was sent back because another run held its key (`n`), until `exp`. */
interface BusyMark {
  readonly n: number;
  readonly exp: number;
}

/** Compare-and-set tries of a busy count before it gives up (the delivery then counts the try). */
const BUSY_CAS_TRIES = 5;

/**
 * The outcome of a claim: run the handler (holding the claim at `revision`), skip a duplicate
 * (`done`), or come back later while another run holds the key (`busy`).
 */
export type Claim =
  | { readonly state: 'run'; readonly revision: number }
  | { readonly state: 'done' }
  | { readonly state: 'busy' };

const DONE: Claim = { state: 'done' };
const BUSY: Claim = { state: 'busy' };

/**
 * Where a group's idempotency marks live; shared by every instance of the group.
 * Marks carry their own expiry, honoured even where the store keeps them longer.
 */
export interface IdempotencyStore {
  /** Takes `key` for a run until `exp`, unless it is done or another run holds it. */
  claim(key: string, now: number, exp: number): Promise<Claim>;
  /** Records a success until `exp`; called before the delivery is acked. */
  done(key: string, exp: number): Promise<void>;
  /** Gives up the claim taken at `revision` (its run failed); a mark written since is left alone. */
  release(key: string, revision: number): Promise<void>;
  /**
   * Counts one more time that event `eventKey` was sent back because another run held its key
   * (such a redelivery is not a try of the handler). @returns the count so far
   */
  busy(eventKey: string, exp: number): Promise<number>;
  /** @returns how often event `eventKey` was sent back so (0 when never, or once expired) */
  busyCount(eventKey: string, now: number): Promise<number>;
}

/** Marks kept apart from a sweep: a sweep runs once the map has doubled since the last, from this size on. */
const SWEEP_FLOOR = 1_024;
/** Done marks a KV store remembers in the process, at most. */
const KNOWN_MAX = 10_000;

/**
 * A map of marks that evicts expired ones as it grows: never more than about twice the live ones,
 * and with `max`, never more than that (the oldest written go first).
 */
class ExpiringMarks {
  private readonly marks = new Map<string, Mark>();
  private sweepAt = SWEEP_FLOOR;

  constructor(
    private readonly now: () => number,
    private readonly max = Number.POSITIVE_INFINITY,
  ) {}

  get size(): number {
    return this.marks.size;
  }

  /** The mark of `key` while it has not expired at `now`. */
  live(key: string, now: number): Mark | undefined {
    const mark = this.marks.get(key);
    return mark && mark.exp > now ? mark : undefined;
  }

  set(key: string, mark: Mark): void {
    // Re-inserted, a key counts as written last.
    this.marks.delete(key);
    this.marks.set(key, mark);
    if (this.marks.size >= this.sweepAt) this.sweep();
  }

  delete(key: string): void {
    this.marks.delete(key);
  }

  private sweep(): void {
    const now = this.now();
    for (const [key, mark] of this.marks) if (mark.exp <= now) this.marks.delete(key);
    // At the cap, down to three quarters of it: the next sweep is a quarter of the cap away.
    if (this.marks.size >= this.max)
      for (const key of this.marks.keys()) {
        if (this.marks.size <= (this.max * 3) / 4) break;
        this.marks.delete(key);
      }
    this.sweepAt = Math.min(this.max, Math.max(SWEEP_FLOOR, this.marks.size * 2));
  }
}

const decoder = new TextDecoder();
const encode = (m: Mark): Uint8Array => utf8Bytes(JSON.stringify(m));

function decodeBusy(bytes: Uint8Array, now: number): number {
  try {
    const m = JSON.parse(decoder.decode(bytes)) as Partial<BusyMark>;
    return Number.isSafeInteger(m.n) && typeof m.exp === 'number' && m.exp > now ? m.n! : 0;
  } catch {
    return 0;
  }
}

function decode(bytes: Uint8Array): Mark | undefined {
  try {
    const m = JSON.parse(decoder.decode(bytes)) as Partial<Mark>;
    return (m.s === 'run' || m.s === 'done') && typeof m.exp === 'number' ? (m as Mark) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Marks in a key-value bucket (NATS KV): create-if-absent claims, compare-and-set takeovers of
 * expired ones. Done marks this instance wrote or saw are remembered until they expire: a duplicate
 * of one costs no round trip (a done mark is final until it expires).
 */
export class KvIdempotencyStore implements IdempotencyStore {
  private readonly known: ExpiringMarks;

  constructor(
    private readonly kv: KeyValueStore,
    private readonly now: () => number,
  ) {
    this.known = new ExpiringMarks(now, KNOWN_MAX);
  }

  async claim(key: string, now: number, exp: number): Promise<Claim> {
    if (this.known.live(key, now)) return DONE;
    const run = encode({ s: 'run', exp });
    try {
      return { state: 'run', revision: await this.kv.create(key, run) };
    } catch (err) {
      if (!(err instanceof KvConflictError)) throw err;
    }
    const entry = await this.kv.get(key);
    // Released between our create and get: another delivery may be claiming it now.
    if (!entry) return BUSY;
    const mark = decode(entry.value);
    if (mark && mark.exp > now) {
      if (mark.s === 'done') this.known.set(key, mark);
      return mark.s === 'done' ? DONE : BUSY;
    }
    try {
      return { state: 'run', revision: await this.kv.update(key, run, entry.revision) };
    } catch (err) {
      if (err instanceof KvConflictError) return BUSY;
      throw err;
    }
  }

  async done(key: string, exp: number): Promise<void> {
    const mark: Mark = { s: 'done', exp };
    await this.kv.put(key, encode(mark));
    this.known.set(key, mark);
  }

  async release(key: string, revision: number): Promise<void> {
    await this.kv.delete(key, revision).catch((err: unknown) => {
      if (!(err instanceof KvConflictError)) throw err;
    });
  }

  async busy(eventKey: string, exp: number): Promise<number> {
    for (let i = 0; i < BUSY_CAS_TRIES; i++) {
      const entry = await this.kv.get(eventKey);
      const n = (entry ? decodeBusy(entry.value, this.now()) : 0) + 1;
      const mark = utf8Bytes(JSON.stringify({ n, exp } satisfies BusyMark));
      try {
        await (entry ? this.kv.update(eventKey, mark, entry.revision) : this.kv.create(eventKey, mark));
        return n;
      } catch (err) {
        // Two instances counting the same event at once: read again.
        if (!(err instanceof KvConflictError)) throw err;
      }
    }
    throw new Error(`busy count of ${eventKey} kept changing`);
  }

  async busyCount(eventKey: string, now: number): Promise<number> {
    const entry = await this.kv.get(eventKey);
    return entry ? decodeBusy(entry.value, now) : 0;
  }
}

/**
 * Marks in this process (the memory transport's runtimes share one per transport); bounded, expired
 * marks are evicted as it grows.
 */
export class LocalIdempotencyStore implements IdempotencyStore {
  private readonly marks: ExpiringMarks;
  private revision = 0;
  private readonly revisions = new Map<string, number>();
  /** Busy counts by event; an event's count goes once it expired and is asked about. */
  private readonly busyMarks = new Map<string, BusyMark>();

  constructor(private readonly now: () => number) {
    this.marks = new ExpiringMarks(now);
  }

  /** Marks held now, expired ones not yet evicted included. */
  get size(): number {
    return this.marks.size;
  }

  async claim(key: string, now: number, exp: number): Promise<Claim> {
    const mark = this.marks.live(key, now);
    if (mark) return mark.s === 'done' ? DONE : BUSY;
    this.marks.set(key, { s: 'run', exp });
    const revision = ++this.revision;
    this.revisions.set(key, revision);
    return { state: 'run', revision };
  }

  async done(key: string, exp: number): Promise<void> {
    this.revisions.delete(key);
    this.marks.set(key, { s: 'done', exp });
  }

  async release(key: string, revision: number): Promise<void> {
    if (this.revisions.get(key) !== revision) return;
    this.revisions.delete(key);
    this.marks.delete(key);
  }

  async busy(eventKey: string, exp: number): Promise<number> {
    const now = this.now();
    // No await before the write: two rounds counted at once both count.
    const last = this.busyMarks.get(eventKey);
    const n = (last && last.exp > now ? last.n : 0) + 1;
    this.busyMarks.delete(eventKey);
    this.busyMarks.set(eventKey, { n, exp });
    if (this.busyMarks.size > KNOWN_MAX) {
      for (const [key, mark] of this.busyMarks) if (mark.exp <= now) this.busyMarks.delete(key);
      // Still full: the oldest counts go (their events then count a busy round as a try).
      for (const key of this.busyMarks.keys()) {
        if (this.busyMarks.size <= (KNOWN_MAX * 3) / 4) break;
        this.busyMarks.delete(key);
      }
    }
    return n;
  }

  async busyCount(eventKey: string, now: number): Promise<number> {
    const mark = this.busyMarks.get(eventKey);
    if (mark && mark.exp <= now) this.busyMarks.delete(eventKey);
    return mark && mark.exp > now ? mark.n : 0;
  }
}

const localStores = new WeakMap<Transport, LocalIdempotencyStore>();

/** The bucket of one ttl: NATS removes its entries after `max_age` = ttl, since 2.9 has no per-key TTL. */
export function idempotencyBucket(namespace: string | undefined, ttlMs: number): string {
  return `${(namespace ?? 'bulwark').replace(/[^-_a-zA-Z0-9]/g, '_')}_idem_${ttlMs}`;
}

/**
 * The store of a transport: in this process for the memory transport (its runtimes share it), else
 * a key-value bucket per ttl on the transport.
 */
export async function openIdempotencyStore(
  transport: Transport,
  ttlMs: number,
  now: () => number,
): Promise<IdempotencyStore> {
  if (transport.kind === 'memory') {
    let local = localStores.get(transport);
    if (!local) localStores.set(transport, (local = new LocalIdempotencyStore(now)));
    return local;
  }
  const kv = await transport.keyValue(idempotencyBucket(transport.namespace, ttlMs), { ttlMs });
  return new KvIdempotencyStore(kv, now);
}
