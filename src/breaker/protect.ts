import { isCircuitOpenError } from '../errors.js';
import { retry, type RetryPolicy } from '../retry/retry.js';
import { breakersByName, type Breaker } from './breaker.js';
import { createBreaker } from './create-breaker.js';

/** Options of {@link protect}. */
export interface ProtectOptions {
  /** A breaker, or the name of one: the most recently created breaker with that name, else a new one with defaults. */
  breaker: Breaker | string;
  /** Retries each call through the breaker; a refusal of an open breaker is never retried. @default no retries */
  retry?: RetryPolicy;
}

/** @returns the breaker `ref` names or is */
function resolveBreaker(ref: Breaker | string): Breaker {
  if (typeof ref !== 'string') return ref;
  return breakersByName.find(ref) ?? createBreaker(ref);
}

function adapterName(adapter: object): string {
  const ctor = (adapter as { constructor?: { name?: unknown } }).constructor;
  return typeof ctor?.name === 'string' && ctor.name !== 'Object' ? ctor.name : 'adapter';
}

/**
 * Wraps every method of `adapter` (own and inherited, called by string keys) so that each call
 * goes through `breaker.execute`, retried by `retry`. Methods are meant to return promises; a
 * synchronous one's result arrives as a promise. Other properties pass through untouched. The
 * breaker lists the adapter in `protectedBy`, which the runtime's health report reads.
 * @param adapter - a client object: an SDK, a repository, a gateway
 * @returns a proxy of `adapter`
 * @example
 * const stripe = protect(stripeClient, { breaker: 'stripe', retry: API_RETRY_POLICY });
 * await stripe.charge('cus_1', 500); // breaker + retry
 */
export function protect<T extends object>(adapter: T, options: ProtectOptions): T {
  const breaker = resolveBreaker(options.breaker);
  breaker.protectedBy.push(adapterName(adapter));
  const policy = options.retry;
  const guarded = policy && {
    ...policy,
    isRetryable: (err: unknown, attempt: number) =>
      !isCircuitOpenError(err) && (policy.isRetryable?.(err, attempt) ?? true),
  };
  const wrappers = new Map<string, { original: unknown; wrapped: unknown }>();
  const wrap = (target: T, method: (...args: unknown[]) => unknown) => {
    return (...args: unknown[]): Promise<unknown> => {
      const once = () => breaker.execute(() => method.apply(target, args));
      return guarded ? retry(once, guarded) : once();
    };
  };
  return new Proxy(adapter, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      if (typeof prop !== 'string' || prop === 'constructor' || typeof value !== 'function') return value;
      const cached = wrappers.get(prop);
      if (cached?.original === value) return cached.wrapped;
      const wrapped = wrap(target, value as (...args: unknown[]) => unknown);
      wrappers.set(prop, { original: value, wrapped });
      return wrapped;
    },
  });
}
