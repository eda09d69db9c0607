/** Time as bulwark's actors see it; injectable so tests can drive it (fake timers, XState's SimulatedClock). */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/**
 * The real clock. Its timers keep the process alive, like any pending I/O: a retry due in five
 * seconds or a call waiting for its timeout is work in flight. `shutdown()` clears them all.
 */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};
