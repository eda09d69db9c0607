import { isValidPattern, matchesPattern } from '../events/patterns.js';

/**
 * @returns true when every type `inner` can match is matched by `outer` (both types or patterns):
 * `order.*` covers `order.placed` and `order.*`, not `order.>`; `order.>` covers all three.
 */
export function covers(outer: string, inner: string): boolean {
  const o = outer.split('.');
  const i = inner.split('.');
  for (let k = 0; k < o.length; k++) {
    const token = o[k];
    if (token === '>') return i.length > k;
    const own = i[k];
    if (own === undefined || own === '>') return false;
    if (token !== '*' && (own === '*' || own !== token)) return false;
  }
  return o.length === i.length;
}

/**
 * Which of a client's patterns lie outside the gateway's `events`.
 * @returns the refused patterns (malformed ones included); empty when all are allowed
 */
export function outsideScope(allowed: readonly string[], wanted: readonly string[]): string[] {
  return wanted.filter((p) => !isValidPattern(p) || !allowed.some((a) => covers(a, p)));
}

/** @returns the registered types that some pattern of `patterns` matches, in registry order */
export function typesMatching(patterns: readonly string[], types: readonly string[]): string[] {
  return types.filter((t) => patterns.some((p) => matchesPattern(p, t)));
}

/**
 * Whether a set of patterns matches a type, remembered per type: a client's patterns are checked
 * once per event type, not once per event.
 */
export class PatternSet {
  private readonly known = new Map<string, boolean>();

  constructor(readonly patterns: readonly string[]) {}

  /** @returns true when some pattern matches `type` */
  matches(type: string): boolean {
    let hit = this.known.get(type);
    if (hit === undefined) {
      hit = this.patterns.some((p) => matchesPattern(p, type));
      this.known.set(type, hit);
    }
    return hit;
  }
}
