/**
 * NATS-style event type patterns: tokens separated by `.`; `*` matches exactly one token, `>` (last
 * token only) matches one or more. `order.*` matches `order.placed`, not `order.placed.eu`;
 * `order.>` matches both.
 */

/** @returns true when `s` contains a wildcard token (`*` or `>`). */
export function isPattern(s: string): boolean {
  return (
    s === '*' || s === '>' || s.startsWith('*.') || s.endsWith('.>') || s.endsWith('.*') || s.includes('.*.')
  );
}

/**
 * @returns true when the event type `type` matches `pattern` (a pattern, or an exact type).
 * @example
 * matchesPattern('order.*', 'order.placed'); // true
 */
export function matchesPattern(pattern: string, type: string): boolean {
  if (pattern === type) return true;
  if (!isPattern(pattern)) return false;
  const p = pattern.split('.');
  const t = type.split('.');
  for (let i = 0; i < p.length; i++) {
    const token = p[i];
    if (token === '>') return i === p.length - 1 && t.length > i;
    if (i >= t.length) return false;
    if (token !== '*' && token !== t[i]) return false;
  }
  return p.length === t.length;
}

/** @returns true when `s` is a well-formed pattern: `>` only last, wildcards as whole tokens. */
export function isValidPattern(s: string): boolean {
  const tokens = s.split('.');
  return tokens.every(
    (tok, i) =>
      tok.length > 0 &&
      (tok === '*' || (tok === '>' ? i === tokens.length - 1 : !tok.includes('*') && !tok.includes('>'))),
  );
}

/** @returns the types among `types` that `pattern` matches, in their order. */
export function typesMatching<T extends string>(pattern: string, types: readonly T[]): T[] {
  return types.filter((t) => matchesPattern(pattern, t));
}

/** True when the event type `T` matches the pattern `P`, as {@link matchesPattern} decides, at the type level. */
export type PatternMatches<P extends string, T extends string> = P extends '>'
  ? true
  : P extends `${infer PH}.${infer PR}`
    ? T extends `${infer TH}.${infer TR}`
      ? PH extends '*' | TH
        ? PatternMatches<PR, TR>
        : false
      : false
    : T extends `${string}.${string}`
      ? false
      : P extends '*' | T
        ? true
        : false;

/** The members of the union `Types` that the pattern (or exact type) `P` matches. */
export type MatchingTypes<Types extends string, P extends string> = Types extends unknown
  ? PatternMatches<P, Types> extends true
    ? Types
    : never
  : never;
