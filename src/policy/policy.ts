import { FORWARDS_SIGNAL, NEVER_ABORTED } from '../retry/retry.js';

export { FORWARDS_SIGNAL, NEVER_ABORTED };

/** The work a policy runs: it receives a signal that aborts when the call should stop. */
export type PolicyCall<T> = (signal: AbortSignal) => T | PromiseLike<T>;

/** A call queued by a policy (a bulkhead's slot, a limiter's token); `onAbort` unhooks its signal. */
export interface Waiter {
  readonly fn: PolicyCall<unknown>;
  readonly signal: AbortSignal | undefined;
  readonly resolve: (value: unknown) => void;
  readonly reject: (err: unknown) => void;
  onAbort: (() => void) | undefined;
}

/**
 * A resilience policy: a bulkhead, a rate limiter, a timeout, a retry, a circuit breaker, or any
 * composition of them made by `wrap`. A `Breaker` satisfies it as it is.
 */
export interface Policy {
  /**
   * Runs `fn` under the policy.
   * @param fn - receives the signal to honour (the caller's, or one that aborts with it)
   * @param signal - the caller's: aborting it abandons the call (and any wait before it)
   * @returns what `fn` resolved with
   * @throws what `fn` threw, or the policy's own refusal (see each policy)
   */
  execute<T>(fn: PolicyCall<T>, signal?: AbortSignal): Promise<T>;
}

/** @returns true when `policy` hands its caller's signal (or one aborting with it) to its function */
export function forwardsSignal(policy: Policy): boolean {
  return (policy as { [FORWARDS_SIGNAL]?: boolean })[FORWARDS_SIGNAL] === true;
}

/**
 * Calls `fn` so that a synchronous throw becomes a rejection, as from an async function, without
 * the cost of one.
 */
export function invoke<T>(fn: PolicyCall<T>, signal: AbortSignal): Promise<T> {
  try {
    return Promise.resolve(fn(signal));
  } catch (err) {
    return Promise.reject(err);
  }
}
