/** How long a wait lasts before it fails, and what it names when it does. */
export interface WaitOptions {
  /** @default 10_000 */
  readonly timeoutMs?: number;
  /** What the test waits for, named in the failure. @default 'condition' */
  readonly what?: string;
}

/** How often a bounded poll looks again: state with no event to wait on (server-side counts, handles). */
const POLL_MS = 5;

/**
 * Resolves once `check()` holds, looking every few ms; for state that has no event to listen to.
 * @throws an Error naming `what` after `timeoutMs`
 */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  { timeoutMs = 10_000, what = 'condition' }: WaitOptions = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

/** {@link waitFor} with positional arguments, as most tests call it. */
export function until(cond: () => boolean, what = 'condition', timeoutMs = 10_000): Promise<void> {
  return waitFor(cond, { what, timeoutMs });
}

/** Polls an async source until `accept` holds; resolves with the accepted value. */
export async function poll<T>(
  source: () => Promise<T>,
  accept: (value: T) => boolean,
  what = 'value',
  timeoutMs = 10_000,
): Promise<T> {
  let last: T | undefined;
  await waitFor(async () => accept((last = await source())), { timeoutMs, what }).catch((e: Error) => {
    throw new Error(`${e.message}: last ${JSON.stringify(last)}`);
  });
  return last as T;
}

/**
 * Resolves with `promise`, or rejects naming `what` if it has not settled within `timeoutMs`:
 * a wait on an event (a handler, a listener) that cannot hang the test.
 */
export function within<T>(
  promise: Promise<T>,
  { timeoutMs = 10_000, what = 'event' }: WaitOptions = {},
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)),
      timeoutMs,
    );
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/**
 * Lets `ms` of real time pass. Only for asserting that something does NOT happen within a bound
 * (a second delivery, a read after the page left); every caller says why its interval suffices.
 */
export function quiet(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** A promise with both ends outside. */
export interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
  reject(reason: unknown): void;
}

/** @returns a promise with its resolve and reject functions outside */
export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (reason: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/**
 * Holds calls until the test lets them go: a handler awaits `pass()`, the test waits until enough
 * are held (`held`), then `openAll()`. Work "in flight" for exactly as long as the test needs.
 */
export class Gate {
  private readonly waiting: (() => void)[] = [];

  /** Calls held now. */
  get held(): number {
    return this.waiting.length;
  }

  /** Resolves once the test lets this call go. */
  pass(): Promise<void> {
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  /** Lets every call held now go. @returns how many */
  openAll(): number {
    const n = this.waiting.length;
    for (const go of this.waiting.splice(0)) go();
    return n;
  }
}

/**
 * Lets `total` calls through a gate in rounds of `concurrency`: each round waits until as many as
 * may run at once are held, then opens. What a concurrency test needs: every round full.
 */
export async function releaseInRounds(gate: Gate, total: number, concurrency: number): Promise<void> {
  for (let released = 0; released < total;) {
    const round = Math.min(concurrency, total - released);
    await waitFor(() => gate.held >= round, { what: `${round} calls held (${released} of ${total} done)` });
    released += gate.openAll();
  }
}
