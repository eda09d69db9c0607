import { Breaker } from './breaker.js';
import type { BreakerEnvironment, BreakerOptions } from './options.js';

/**
 * Creates a breaker outside a runtime.
 * @param name - shown in stats, errors and logs; `protect(adapter, { breaker: name })` finds it
 * @param options - see {@link BreakerOptions}
 * @param env - clock, logger, inspector and KV bucket; all optional
 * @returns a CLOSED breaker; call `dispose()` when done with it
 * @throws {ValidationError} when an option is out of range
 * @example
 * const breaker = createBreaker('geocoder', { failureThreshold: 5, resetTimeoutMs: 10_000 });
 * const place = await breaker.execute((signal) => geocode(address, { signal }));
 */
export function createBreaker(name: string, options?: BreakerOptions, env?: BreakerEnvironment): Breaker {
  return new Breaker(name, options, env);
}
