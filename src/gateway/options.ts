import type { IncomingMessage } from 'node:http';
import { ValidationError } from '../errors.js';
import type { CloudEvent } from '../events/cloudevent.js';
import { isValidPattern } from '../events/patterns.js';

/**
 * The browser gateway of `rt.listen({ gateway })`: which events browsers may subscribe to, who
 * may connect, and what each one sees.
 * @example
 * await rt.listen({ port: 8080, gateway: {
 *   events: ['order.*'],
 *   authorize: async (req) => sessions.claimsOf(req.headers.cookie),
 *   filter: (claims, event) => (event.data as { userId: string }).userId === claims.userId,
 * } });
 */
export interface GatewayOptions<C = unknown> {
  /** Event types and patterns (`order.*`, `order.>`) browsers may subscribe to; nothing else is sent. */
  readonly events: readonly string[];
  /**
   * Who may connect: the claims of the request's user, or null (or undefined) to answer 401 (no socket, no stream).
   * Check `req.headers.origin` here too when cookies authenticate (cross-site WebSocket hijacking).
   * @default every request is admitted, with claims `{}`
   */
  readonly authorize?: (req: IncomingMessage) => C | null | Promise<C | null>;
  /** Per client and event: false hides the event from that client. @default every event is shown */
  filter?(claims: C, event: CloudEvent): boolean;
  /** A WebSocket ping and an SSE comment this often; a WebSocket that missed its last pong is closed. @default 15_000 */
  readonly heartbeatMs?: number;
  /**
   * Bytes one client may have waiting unsent; past it the client is disconnected with a reason
   * (WebSocket close 1013, SSE `event: error`) and nothing more is queued for it. @default 1_048_576
   */
  readonly maxBufferedBytes?: number;
  /** Clients connected at once (WebSocket and SSE); more are answered 503. @default 10_000 */
  readonly maxClients?: number;
  /** Recent events kept for clients that reconnect; older ones are read from the stream's history. @default 10_000 */
  readonly retainEvents?: number;
  /** Patterns one client may subscribe to at once. @default 32 */
  readonly maxPatterns?: number;
  /** Where the WebSocket endpoint is served; SSE is at `<path>/sse`. @default '/events' */
  readonly path?: string;
}

/** {@link GatewayOptions} with every default applied. */
export interface ResolvedGatewayOptions {
  readonly events: readonly string[];
  readonly authorize: (req: IncomingMessage) => unknown;
  readonly filter: ((claims: unknown, event: CloudEvent) => boolean) | undefined;
  readonly heartbeatMs: number;
  readonly maxBufferedBytes: number;
  readonly maxClients: number;
  readonly retainEvents: number;
  readonly maxPatterns: number;
  readonly path: string;
}

function positive(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1)
    throw new ValidationError(`gateway option ${name} must be a positive integer, got ${value}`);
  return value;
}

/**
 * Checks the gateway options and applies their defaults.
 * @throws {ValidationError} for an empty or malformed `events` list, or an option out of range
 */
export function resolveGatewayOptions<C>(o: GatewayOptions<C>): ResolvedGatewayOptions {
  if (!Array.isArray(o.events) || o.events.length === 0)
    throw new ValidationError('gateway.events must name at least one event type or pattern');
  for (const p of o.events)
    if (typeof p !== 'string' || !isValidPattern(p))
      throw new ValidationError(`gateway.events: "${String(p)}" is not an event type or pattern`);
  const path = (o.path ?? '/events').replace(/\/$/, '');
  if (!path.startsWith('/')) throw new ValidationError(`gateway.path must start with "/", got "${path}"`);
  return {
    events: [...o.events],
    authorize: o.authorize ?? (() => ({})),
    filter: o.filter as ResolvedGatewayOptions['filter'],
    heartbeatMs: positive('heartbeatMs', o.heartbeatMs, 15_000),
    maxBufferedBytes: positive('maxBufferedBytes', o.maxBufferedBytes, 1_048_576),
    maxClients: positive('maxClients', o.maxClients, 10_000),
    retainEvents: positive('retainEvents', o.retainEvents, 10_000),
    maxPatterns: positive('maxPatterns', o.maxPatterns, 32),
    path,
  };
}
