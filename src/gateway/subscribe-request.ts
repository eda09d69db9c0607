import { outsideScope } from './scope.js';

/** A client's subscription: the patterns it wants and the last seq it saw, if any. */
export interface SubscribeRequest {
  readonly patterns: readonly string[];
  readonly from: number | undefined;
}

/** Why a subscription was refused, for the client. */
export type Refusal = { readonly error: string };

function seqOf(value: unknown): number | undefined | Refusal {
  if (value === undefined || value === null || value === '') return undefined;
  const n = typeof value === 'string' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0)
    return { error: `"from" must be a sequence number, got ${JSON.stringify(value)}` };
  return n;
}

/**
 * Checks a subscription against the gateway's `events`.
 * @returns the request, or why it is refused (malformed, too many patterns, a pattern outside)
 */
export function checkSubscription(
  allowed: readonly string[],
  maxPatterns: number,
  patterns: unknown,
  from: unknown,
): SubscribeRequest | Refusal {
  if (!Array.isArray(patterns) || patterns.length === 0 || !patterns.every((p) => typeof p === 'string'))
    return { error: '"subscribe" must be a non-empty list of event types or patterns' };
  if (patterns.length > maxPatterns) return { error: `at most ${maxPatterns} patterns per client` };
  const outside = outsideScope(allowed, patterns);
  if (outside.length > 0) return { error: `not allowed: ${outside.join(', ')}` };
  const seq = seqOf(from);
  if (typeof seq === 'object') return seq;
  return { patterns: [...new Set(patterns)], from: seq };
}

/** A WebSocket message `{ subscribe: [...], from?: seq }`, parsed and checked. */
export function parseSubscribeMessage(
  allowed: readonly string[],
  maxPatterns: number,
  text: string,
): SubscribeRequest | Refusal {
  let msg: unknown;
  try {
    msg = JSON.parse(text);
  } catch {
    return { error: 'messages must be JSON: { "subscribe": ["order.*"], "from": 42 }' };
  }
  if (typeof msg !== 'object' || msg === null) return { error: 'expected { "subscribe": [...] }' };
  const m = msg as { subscribe?: unknown; from?: unknown };
  return checkSubscription(allowed, maxPatterns, m.subscribe, m.from);
}

/** The SSE query: `subscribe` repeated or comma-separated, `from` or the `Last-Event-ID` header. */
export function parseSseQuery(
  allowed: readonly string[],
  maxPatterns: number,
  url: URL,
  lastEventId: string | undefined,
): SubscribeRequest | Refusal {
  const patterns = url.searchParams
    .getAll('subscribe')
    .flatMap((s) => s.split(','))
    .map((s) => s.trim())
    .filter((s) => s !== '');
  // An EventSource that reconnects by itself sends Last-Event-ID: newer than the URL's `from`.
  return checkSubscription(allowed, maxPatterns, patterns, lastEventId ?? url.searchParams.get('from'));
}

/** @returns true when `r` is a refusal */
export function isRefusal(r: SubscribeRequest | Refusal): r is Refusal {
  return 'error' in r;
}
