import { MissingStreamError } from '../errors.js';
import type { Logger } from '../logging.js';
import type { KeyValueStore, KvEntry, KvWatch } from '../transport/key-value.js';
import type { Transport } from '../transport/transport.js';

const PAUSED = new TextEncoder().encode('1');
const RUNNING = new TextEncoder().encode('0');
const KEY_TOKEN = /^[A-Za-z0-9_-]+$/;

/** The bucket that holds the pause state of every queue under a transport's namespace. */
export function queueBucket(transport: Transport): string {
  return `${(transport.namespace ?? 'bulwark').replace(/[^A-Za-z0-9_-]/g, '_')}_queues`;
}

/** The key of one queue's pause state; a name that is not a key token is encoded, never merged. */
export function pauseKey(queue: string): string {
  return `paused.${KEY_TOKEN.test(queue) ? queue : `=${Buffer.from(queue).toString('base64url')}`}`;
}

/**
 * A queue's pause state, shared by every worker of the queue in every process: one key in the
 * transport's key-value store (NATS KV on JetStream, a Map in memory). Workers follow it with a
 * watch; `counts()` reads it without creating anything.
 */
export class PauseState {
  private readonly key: string;
  private readonly bucket: string;
  private watch: KvWatch | undefined;
  private revision = 0;
  private stopped = false;
  /** The bucket once opened: `counts()` reads it often, and opening it costs round trips. */
  private kv: KeyValueStore | undefined;

  constructor(
    private readonly transport: Transport,
    queue: string,
    private readonly logger: Logger,
  ) {
    this.key = pauseKey(queue);
    this.bucket = queueBucket(transport);
  }

  /**
   * Pauses or resumes the queue for every worker; creates the bucket when missing (an admin's
   * explicit write, also from a transport that provisions nothing else). Idempotent.
   */
  async set(paused: boolean): Promise<void> {
    const kv = (this.kv ??= await this.transport.keyValue(this.bucket, { create: true }));
    await kv.put(this.key, paused ? PAUSED : RUNNING);
  }

  /** @returns whether the queue is paused; false when its state was never set (nothing is created) */
  async get(): Promise<boolean> {
    const kv = await this.open(false);
    return kv ? isPaused(await kv.get(this.key)) : false;
  }

  /**
   * Calls `onChange` with the current state, then with every change, until {@link stop}. A
   * transport that may not create the bucket and lacks it is taken as never paused.
   */
  async follow(onChange: (paused: boolean) => void): Promise<void> {
    this.watch?.stop();
    const kv = await this.open(undefined);
    if (!kv)
      this.logger.warn(`no bucket ${this.bucket} (provision: false): pause and resume are not followed`);
    if (!kv || this.stopped) return;
    const seen = (entry: KvEntry | null): void => {
      if (entry && entry.revision <= this.revision) return;
      if (entry) this.revision = entry.revision;
      onChange(isPaused(entry));
    };
    // Watch first, then read: a change in between is not missed, and an older read is ignored.
    this.watch = kv.watch(this.key, seen);
    void this.watch.ended.then(() => {
      if (!this.stopped) this.logger.warn('the queue pause state is no longer watched');
    });
    await this.watch.ready;
    seen(await kv.get(this.key));
  }

  /** Opens the bucket; a missing one (not created here) is not remembered, so a later pause is seen. */
  private async open(create: boolean | undefined): Promise<KeyValueStore | undefined> {
    if (this.kv) return this.kv;
    const options = create === undefined ? undefined : { create };
    this.kv = await this.transport.keyValue(this.bucket, options).catch((err: unknown) => {
      if (err instanceof MissingStreamError) return undefined;
      throw err;
    });
    return this.kv;
  }

  /** Stops following. Idempotent. */
  stop(): void {
    this.stopped = true;
    this.watch?.stop();
  }
}

function isPaused(entry: KvEntry | null): boolean {
  return entry?.operation === 'PUT' && entry.value.length === 1 && entry.value[0] === PAUSED[0];
}
