import { JetStreamApiCodes, JetStreamApiError, type JetStreamClient } from '@nats-io/jetstream';
import { Kvm, KvWatchInclude, type KV, type KvEntry as NatsKvEntry } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { KvConflictError, type KeyValueStore, type KvEntry, type KvWatch } from '../key-value.js';

/** Options of {@link openNatsKeyValue}. */
export interface NatsKeyValueOptions {
  /** Values kept per key. @default 1 */
  history?: number;
  /** Copies of the bucket in a cluster, when it is created. @default 1 */
  replicas?: number;
  /** Entries older than this are removed, when the bucket is created. @default none */
  ttlMs?: number;
  /** Binds to the bucket as it is, neither creating nor updating it. @default false */
  bindOnly?: boolean;
}

function toEntry(e: NatsKvEntry): KvEntry {
  const { key, value, revision, operation } = e;
  return { key, value, revision, operation, created: e.created.getTime() };
}

function isWrongLastSequence(err: unknown): boolean {
  return (
    err instanceof JetStreamApiError &&
    (err.code === JetStreamApiCodes.StreamWrongLastSequence ||
      err.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown)
  );
}

/** A compare-and-set that lost the race becomes KvConflictError; anything else passes through. */
async function cas<T>(key: string, write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (err) {
    if (isWrongLastSequence(err)) throw new KvConflictError(key);
    throw err;
  }
}

/** How often a bucket with watches checks that it still exists. */
const WATCH_CHECK_MS = 2_000;

class NatsKeyValue implements KeyValueStore {
  constructor(
    readonly bucket: string,
    private readonly kv: KV,
  ) {}

  async get(key: string): Promise<KvEntry | null> {
    const entry = await this.kv.get(key);
    return entry && entry.operation === 'PUT' ? toEntry(entry) : null;
  }

  put(key: string, value: Uint8Array): Promise<number> {
    return this.kv.put(key, value);
  }

  create(key: string, value: Uint8Array): Promise<number> {
    return cas(key, () => this.kv.create(key, value));
  }

  update(key: string, value: Uint8Array, revision: number): Promise<number> {
    return cas(key, () => this.kv.update(key, value, revision));
  }

  delete(key: string, revision?: number): Promise<void> {
    if (revision === undefined) return this.kv.delete(key);
    return cas(key, () => this.kv.delete(key, { previousSeq: revision }));
  }

  async keys(): Promise<string[]> {
    const out: string[] = [];
    for await (const key of await this.kv.keys()) out.push(key);
    return out;
  }

  /** Ends every watch when the bucket is gone: nats.js's watch keeps waiting on a deleted stream. */
  private readonly live = new Set<() => void>();
  private checker: NodeJS.Timeout | undefined;

  private check(): void {
    if (this.live.size === 0) {
      clearInterval(this.checker);
      this.checker = undefined;
      return;
    }
    this.kv.status().then(
      () => undefined,
      (err: unknown) => {
        if (!/not found/i.test((err as Error).message)) return; // not answering is not gone
        for (const end of [...this.live]) end();
      },
    );
  }

  watch(key: string, onEntry: (entry: KvEntry) => void): KvWatch {
    let stopped = false;
    let lost!: () => void;
    const gone = new Promise<void>((resolve) => (lost = resolve));
    let stopIterator: (() => void) | undefined;
    const started = this.kv.watch({ key, include: KvWatchInclude.UpdatesOnly }).then((iterator) => {
      stopIterator = () => iterator.stop();
      if (stopped) stopIterator();
      return iterator;
    });
    const ready = started.then(() => undefined);
    // Those who do not wait for `ready` must not see an unhandled rejection.
    ready.catch(() => undefined);
    const iterated = started
      .then(async (iterator) => {
        for await (const entry of iterator) onEntry(toEntry(entry));
      })
      .catch(() => undefined);
    const end = (): void => {
      this.live.delete(end);
      stopIterator?.();
      lost();
    };
    this.live.add(end);
    this.checker ??= setInterval(() => this.check(), WATCH_CHECK_MS);
    this.checker.unref();
    const ended = Promise.race([iterated, gone]).then(() => {
      this.live.delete(end);
      return stopped ? new Promise<void>(() => undefined) : undefined;
    });
    return {
      ready,
      ended,
      stop: () => {
        stopped = true;
        this.live.delete(end);
        stopIterator?.();
      },
    };
  }
}

/**
 * Opens (creating it when missing) a NATS KV bucket as a {@link KeyValueStore}.
 * @param nc - a connection to a server with JetStream, or a JetStream client (which carries its domain)
 * @param bucket - the bucket's name (letters, digits, `-` and `_`)
 * @throws when the server refuses the bucket
 * @example
 * const kv = await openNatsKeyValue(nc, 'bulwark_breakers');
 */
export async function openNatsKeyValue(
  nc: NatsConnection | JetStreamClient,
  bucket: string,
  opts: NatsKeyValueOptions = {},
): Promise<KeyValueStore> {
  if (opts.bindOnly) return new NatsKeyValue(bucket, await new Kvm(nc).open(bucket));
  const kv = await new Kvm(nc).create(bucket, {
    history: opts.history ?? 1,
    replicas: opts.replicas ?? 1,
    ...(opts.ttlMs !== undefined && { ttl: opts.ttlMs }),
  });
  return new NatsKeyValue(bucket, kv);
}
