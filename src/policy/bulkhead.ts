import { BulkheadRejectedError, ValidationError } from '../errors.js';
import {
  FORWARDS_SIGNAL,
  invoke,
  NEVER_ABORTED,
  type Policy,
  type PolicyCall,
  type Waiter,
} from './policy.js';

/** Options of {@link bulkhead}. */
export interface BulkheadOptions {
  /** Calls that may run at once. */
  readonly maxConcurrent: number;
  /** Calls that may wait for a slot; beyond them a call is refused. @default 0 */
  readonly maxQueue?: number;
  /** Named in errors and stats. @default 'bulkhead' */
  readonly name?: string;
}

/** What a bulkhead holds now, and what it has refused. */
export interface BulkheadStats {
  readonly name: string;
  readonly maxConcurrent: number;
  readonly maxQueue: number;
  /** Calls running now. */
  readonly executing: number;
  /** Calls waiting for a slot now. */
  readonly queued: number;
  /** Calls refused with a BulkheadRejectedError so far. */
  readonly rejected: number;
}

/**
 * Limits how many calls run at once; up to `maxQueue` more wait in order for a slot, and a caller
 * whose signal aborts while it waits leaves the queue (rejected with the signal's reason).
 * A running call is never aborted by the bulkhead.
 * @example
 * const pool = new Bulkhead({ maxConcurrent: 10, maxQueue: 100 });
 */
export class Bulkhead implements Policy {
  readonly [FORWARDS_SIGNAL] = true;
  readonly name: string;
  readonly maxConcurrent: number;
  readonly maxQueue: number;
  private active = 0;
  private rejections = 0;
  private readonly waiting: Waiter[] = [];
  // One pair per bulkhead, not per call: they release the slot when a call settles.
  private readonly released = <T>(value: T): T => {
    this.release();
    return value;
  };
  private readonly failed = (err: unknown): never => {
    this.release();
    throw err;
  };

  /** @throws {ValidationError} when `maxConcurrent` is not a positive integer or `maxQueue` is negative */
  constructor(options: BulkheadOptions) {
    const { maxConcurrent, maxQueue = 0, name = 'bulkhead' } = options;
    if (!Number.isInteger(maxConcurrent) || maxConcurrent < 1) {
      throw new ValidationError(`bulkhead "${name}": maxConcurrent must be a positive integer`);
    }
    if (!(Number.isInteger(maxQueue) || maxQueue === Infinity) || maxQueue < 0) {
      throw new ValidationError(`bulkhead "${name}": maxQueue must be a non-negative integer`);
    }
    this.name = name;
    this.maxConcurrent = maxConcurrent;
    this.maxQueue = maxQueue;
  }

  /**
   * Runs `fn` in a free slot, or once one frees up.
   * @param signal - aborting it while the call waits removes it from the queue
   * @returns what `fn` resolved with
   * @throws {BulkheadRejectedError} when every slot runs and the queue is full
   * @throws the signal's reason when it aborted before the call started
   * @throws what `fn` threw
   */
  execute<T>(fn: PolicyCall<T>, signal?: AbortSignal): Promise<T> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.active < this.maxConcurrent) {
      this.active++;
      return this.run(fn, signal ?? NEVER_ABORTED);
    }
    if (this.waiting.length < this.maxQueue) return this.enqueue(fn, signal);
    this.rejections++;
    return Promise.reject(new BulkheadRejectedError(this.maxConcurrent, this.maxQueue));
  }

  /** Calls running, calls waiting, and refusals so far. */
  stats(): BulkheadStats {
    const { name, maxConcurrent, maxQueue } = this;
    const [executing, queued, rejected] = [this.active, this.waiting.length, this.rejections];
    return { name, maxConcurrent, maxQueue, executing, queued, rejected };
  }

  private run<T>(fn: PolicyCall<T>, signal: AbortSignal): Promise<T> {
    return invoke(fn, signal).then(this.released, this.failed);
  }

  private enqueue<T>(fn: PolicyCall<T>, signal: AbortSignal | undefined): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const waiter: Waiter = {
        fn,
        signal,
        resolve: resolve as (v: unknown) => void,
        reject,
        onAbort: undefined,
      };
      if (signal) {
        waiter.onAbort = () => this.leave(waiter);
        signal.addEventListener('abort', waiter.onAbort, { once: true });
      }
      this.waiting.push(waiter);
    });
  }

  private leave(waiter: Waiter): void {
    const at = this.waiting.indexOf(waiter);
    if (at < 0) return;
    this.waiting.splice(at, 1);
    waiter.reject(waiter.signal?.reason);
  }

  private release(): void {
    this.active--;
    const next = this.waiting.shift();
    if (!next) return;
    if (next.onAbort) next.signal?.removeEventListener('abort', next.onAbort);
    this.active++;
    this.run(next.fn, next.signal ?? NEVER_ABORTED).then(next.resolve, next.reject);
  }
}

/**
 * A bulkhead: at most `maxConcurrent` calls at once, `maxQueue` more waiting for a slot.
 * @returns a policy that refuses calls beyond both with a BulkheadRejectedError
 * @throws {ValidationError} when an option is out of range
 * @example
 * const pool = bulkhead({ maxConcurrent: 10, maxQueue: 100 });
 * const user = await pool.execute((signal) => fetch(url, { signal }));
 */
export function bulkhead(options: BulkheadOptions): Bulkhead {
  return new Bulkhead(options);
}
