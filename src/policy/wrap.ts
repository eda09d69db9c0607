import {
  FORWARDS_SIGNAL,
  forwardsSignal,
  invoke,
  NEVER_ABORTED,
  type Policy,
  type PolicyCall,
} from './policy.js';

/**
 * The signal a policy that does not forward its caller's (a breaker: it hands over its own, or a
 * never-aborted one) should pass on: one that aborts with either.
 */
function link(inner: AbortSignal, outer: AbortSignal | undefined): AbortSignal {
  if (outer === undefined || outer === NEVER_ABORTED || inner === outer) return inner;
  return AbortSignal.any([inner, outer]);
}

/**
 * Policies run one inside the other, the first outermost: `new PolicyWrap([a, b]).execute(fn)`
 * is `a.execute((s) => b.execute(fn, s))`. Every policy's signal reaches the work: a breaker's
 * own (from its `timeoutMs`) is linked with the one of the policies around it.
 */
export class PolicyWrap implements Policy {
  readonly [FORWARDS_SIGNAL] = true;
  private readonly forwards: readonly boolean[];

  /** @param policies - outermost first */
  constructor(readonly policies: readonly Policy[]) {
    this.forwards = policies.map(forwardsSignal);
  }

  /**
   * Runs `fn` through every policy, outermost first.
   * @returns what `fn` resolved with
   * @throws what the policies or `fn` threw, as the innermost policy that did not handle it let it out
   */
  execute<T>(fn: PolicyCall<T>, signal?: AbortSignal): Promise<T> {
    return this.step(0, fn, signal);
  }

  private step<T>(i: number, fn: PolicyCall<T>, signal: AbortSignal | undefined): Promise<T> {
    const policy = this.policies[i];
    if (policy === undefined) return invoke(fn, signal ?? NEVER_ABORTED);
    if (this.forwards[i]) return policy.execute((s) => this.step(i + 1, fn, s), signal);
    return policy.execute((s) => this.step(i + 1, fn, link(s, signal)), signal);
  }
}

/**
 * Composes policies, the first outermost, like cockatiel's `wrap`: in
 * `wrap(limit, pool, retry(API_RETRY_POLICY), breaker, timeout(5_000))` each try is bounded to
 * 5 s, the breaker sees every try, the retry sees the breaker's refusals and failures, and the
 * bulkhead and the limiter are passed once per call, retries included.
 * @param policies - outermost first; a `Breaker` is one as it is
 * @returns one policy
 * @example
 * const policy = wrap(rateLimiter({ limit: 100, intervalMs: 1_000 }), retry(API_RETRY_POLICY), timeout(2_000));
 * const body = await policy.execute((signal) => fetch(url, { signal }).then((r) => r.json()));
 */
export function wrap(...policies: Policy[]): PolicyWrap {
  return new PolicyWrap(policies);
}
