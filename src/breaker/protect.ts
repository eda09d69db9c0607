import { isCircuitOpenError, ValidationError } from '../errors.js';
import type { Policy } from '../policy/policy.js';
import { wrap as compose } from '../policy/wrap.js';
import { retry, type RetryPolicy } from '../retry/retry.js';
import { breakersByName, type Breaker } from './breaker.js';
import { createBreaker } from './create-breaker.js';

/** Options of {@link protect}: a policy, a breaker with an optional retry, or both. */
export interface ProtectOptions {
  /** A breaker, or the name of one: the most recently created breaker with that name, else a new one with defaults. */
  breaker?: Breaker | string;
  /** Retries each call through the breaker; a refusal of an open breaker is never retried. @default no retries */
  retry?: RetryPolicy;
  /**
   * Any policy (`wrap(…)`, a bulkhead, a rate limiter, a breaker); with `breaker` (and `retry`)
   * as well, it runs outside them.
   */
  policy?: Policy;
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
 * goes through `policy`, then `retry`, then `breaker` (each optional, one of `policy` and
 * `breaker` required). Methods are meant to return promises; a synchronous one's result arrives
 * as a promise. Other properties pass through untouched. The breaker lists the adapter in
 * `protectedBy`; a breaker of a runtime (`rt.breaker`, or found by name) also registers the
 * adapter as a service of that runtime's health (`<Adapter>`, its breaker's state deciding its
 * status: OPEN or HALF_OPEN is DEGRADED), unless the breaker was made with `health: false`.
 * @param adapter - a client object: an SDK, a repository, a gateway
 * @returns a proxy of `adapter`
 * @throws {ValidationError} when neither `breaker` nor `policy` is given
 * @example
 * const stripe = protect(stripeClient, { breaker: 'stripe', retry: API_RETRY_POLICY });
 * await stripe.charge('cus_1', 500); // breaker + retry
 * const github = protect(githubClient, { policy: wrap(rateLimiter({ limit: 80, intervalMs: 60_000 }), timeout(5_000)) });
 */
export function protect<T extends object>(adapter: T, options: ProtectOptions): T {
  const policy = policyOf(adapter, options);
  const wrappers = new Map<string, { original: unknown; wrapped: unknown }>();
  const wrap = (target: T, method: (...args: unknown[]) => unknown) => {
    return (...args: unknown[]): Promise<unknown> => policy.execute(() => method.apply(target, args));
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

/** The one policy every call of a protected adapter goes through: `policy`, then retry, then breaker. */
function policyOf(adapter: object, options: ProtectOptions): Policy {
  if (options.breaker === undefined) {
    if (!options.policy) throw new ValidationError('protect needs a breaker or a policy');
    return options.retry ? compose(options.policy, retry(options.retry)) : options.policy;
  }
  const breaker = resolveBreaker(options.breaker);
  breaker.addProtected(adapterName(adapter));
  const layers: Policy[] = options.policy ? [options.policy] : [];
  const policy = options.retry;
  if (policy) {
    const isRetryable = (err: unknown, attempt: number) =>
      !isCircuitOpenError(err) && (policy.isRetryable?.(err, attempt) ?? true);
    layers.push(retry({ ...policy, isRetryable }));
  }
  layers.push(breaker);
  return layers.length === 1 ? breaker : compose(...layers);
}
