import { InvalidArgumentError } from 'commander';

/** Parses a positive integer option. */
export function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n <= 0) throw new InvalidArgumentError('expected a positive integer');
  return n;
}

/** Parses a comma-separated list option. */
export function list(value: string): string[] {
  const items = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (items.length === 0) throw new InvalidArgumentError('expected a comma-separated list');
  return items;
}

/** Parses `--url`: an http(s) URL. */
export function httpUrl(value: string): string {
  try {
    const url = new URL(value);
    if (url.protocol === 'http:' || url.protocol === 'https:')
      return url.origin + url.pathname.replace(/\/$/, '');
  } catch {
    // falls through to the error below
  }
  throw new InvalidArgumentError('expected an http:// or https:// URL');
}

/**
 * Parses an option that names one event type: a wildcard (`*`, `>`) would select several, and an
 * empty or dotted-empty type none.
 */
export function eventType(value: string): string {
  if (/[*>]/.test(value))
    throw new InvalidArgumentError(
      `expected one event type such as user.created, not a pattern ("${value}")`,
    );
  if (!/^[^.\s]+(\.[^.\s]+)*$/.test(value))
    throw new InvalidArgumentError('expected an event type such as user.created');
  return value;
}
