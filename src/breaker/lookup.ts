import type { Breaker } from './breaker.js';

// The process-wide lookup `protect(adapter, { breaker: 'name' })` resolves through. Weak, so that a
// standalone breaker nobody holds can still be collected.
const byName = new Map<string, WeakRef<Breaker>>();

/** Makes `breaker` the one its name resolves to (the most recently created wins). */
export function rememberBreaker(breaker: Breaker): void {
  byName.set(breaker.name, new WeakRef(breaker));
}

/** Forgets `breaker` if its name still resolves to it. */
export function forgetBreaker(breaker: Breaker): void {
  if (byName.get(breaker.name)?.deref() === breaker) byName.delete(breaker.name);
}

/** @returns the most recently created live breaker named `name` */
export function findBreaker(name: string): Breaker | undefined {
  const breaker = byName.get(name)?.deref();
  if (!breaker) byName.delete(name);
  return breaker;
}
