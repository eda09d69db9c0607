/** How a delay is randomised so that many clients do not retry in step. */
export type Jitter = 'none' | 'full' | 'equal' | 'decorrelated';

/** A delay schedule: `delay(attempt)` is the wait in ms before try `attempt + 1`. */
export interface Backoff {
  /**
   * @param attempt - the 1-based number of the try that just failed
   * @returns milliseconds to wait before the next try
   */
  delay(attempt: number): number;
}

/** Options of {@link exponential}. */
export interface ExponentialOptions {
  /** @default 100 */
  initialMs?: number;
  /** @default 30_000 */
  maxMs?: number;
  /** @default 2 */
  factor?: number;
  /** @default 'full' */
  jitter?: Jitter;
  /** Source of randomness in [0, 1); injectable for tests. @default Math.random */
  random?: () => number;
}

/** Options of {@link linear}. */
export interface LinearOptions {
  /** @default 100 */
  initialMs?: number;
  /** @default initialMs */
  stepMs?: number;
  /** @default 30_000 */
  maxMs?: number;
  /** @default 'full' */
  jitter?: Jitter;
  random?: () => number;
}

/** Options of {@link fixed}. */
export interface FixedOptions {
  /** @default 1_000 */
  delayMs?: number;
  /** @default 'none' */
  jitter?: Jitter;
  random?: () => number;
}

function applyJitter(
  jitter: Jitter,
  base: number,
  floor: number,
  max: number,
  random: () => number,
  previous: { value: number },
): number {
  switch (jitter) {
    case 'none':
      return base;
    case 'full':
      return Math.floor(random() * base);
    case 'equal':
      return Math.floor(base / 2 + random() * (base / 2));
    case 'decorrelated': {
      // AWS "decorrelated jitter": sleep = min(cap, random_between(base, prev * 3)).
      const high = Math.max(floor, previous.value * 3);
      const next = Math.min(max, Math.floor(floor + random() * (high - floor)));
      previous.value = next;
      return next;
    }
  }
}

function schedule(
  raw: (attempt: number) => number,
  floor: number,
  maxMs: number,
  jitter: Jitter,
  random: () => number,
): Backoff {
  const previous = { value: floor };
  return {
    delay(attempt: number): number {
      const n = Math.max(1, Math.floor(attempt));
      const base = Math.min(maxMs, raw(n));
      return Math.max(0, applyJitter(jitter, base, floor, maxMs, random, previous));
    },
  };
}

/**
 * Exponential backoff: `initialMs * factor^(attempt-1)`, capped at `maxMs`, then jittered.
 * @example
 * const b = exponential({ initialMs: 1000, maxMs: 60_000, jitter: 'full' });
 * b.delay(3); // somewhere in [0, 4000)
 */
export function exponential(opts: ExponentialOptions = {}): Backoff {
  const { initialMs = 100, maxMs = 30_000, factor = 2, jitter = 'full', random = Math.random } = opts;
  return schedule((n) => initialMs * factor ** (n - 1), initialMs, maxMs, jitter, random);
}

/**
 * Linear backoff: `initialMs + stepMs * (attempt-1)`, capped at `maxMs`, then jittered.
 * @example
 * linear({ initialMs: 100, stepMs: 100, jitter: 'none' }).delay(3); // 300
 */
export function linear(opts: LinearOptions = {}): Backoff {
  const { initialMs = 100, maxMs = 30_000, jitter = 'full', random = Math.random } = opts;
  const stepMs = opts.stepMs ?? initialMs;
  return schedule((n) => initialMs + stepMs * (n - 1), initialMs, maxMs, jitter, random);
}

/**
 * The same delay every time.
 * @example
 * fixed({ delayMs: 250 }).delay(7); // 250
 */
export function fixed(opts: FixedOptions = {}): Backoff {
  const { delayMs = 1_000, jitter = 'none', random = Math.random } = opts;
  return schedule(() => delayMs, delayMs, delayMs, jitter, random);
}

/** No wait at all between tries. */
export const immediate: Backoff = { delay: () => 0 };
