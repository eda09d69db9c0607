import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { ValidationError } from '../errors.js';
import { serveSse, WsEndpoint, type EndpointContext } from './endpoints.js';
import { GatewayHub } from './hub.js';
import type { GatewayStats } from './types.js';
import { resolveGatewayOptions, type GatewayOptions } from './options.js';
import { typesMatching } from './scope.js';
import { GatewaySource, type SourceContext } from './source.js';

/** The SSE route, shaped as the HTTP server's raw routes (`http/raw-route.ts`). */
export interface GatewayRoute {
  readonly path: string;
  readonly raw: (req: IncomingMessage, res: ServerResponse) => unknown;
  readonly close: () => void;
}

/** A running browser gateway: its SSE route, its WebSocket upgrades, its counters. */
export interface Gateway {
  /** Where the WebSocket endpoint is (`/events`); SSE is at `<path>/sse`. */
  readonly path: string;
  /** The SSE route, served with the server's other routes. */
  readonly routes: readonly GatewayRoute[];
  /** Handles an HTTP upgrade of `path`. @returns false for another path (not handled) */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean;
  /** Clients, events and disconnects so far. */
  stats(): GatewayStats;
  /** Disconnects every client and stops consuming; idempotent. */
  close(): Promise<void>;
}

function pathOf(req: IncomingMessage): string {
  const path = new URL(req.url ?? '/', 'http://localhost').pathname;
  return path.length > 1 ? path.replace(/\/$/, '') : path;
}

/**
 * Starts a browser gateway on a runtime's transport: resolves once it consumes.
 * @throws {ValidationError} for bad options, or `events` that match no registered type
 * @example
 * const gateway = await openGateway(
 *   { transport, types: events.types, instanceId, logger },
 *   { events: ['order.*'], authorize: (req) => claimsOf(req) },
 * );
 */
export async function openGateway<C>(src: SourceContext, options: GatewayOptions<C>): Promise<Gateway> {
  const o = resolveGatewayOptions(options);
  if (typesMatching(o.events, src.types).length === 0)
    throw new ValidationError(`gateway.events (${o.events.join(', ')}) match no registered event type`);
  const logger = src.logger;
  // The hub reads history through the source, which is made next; neither runs before both exist.
  const hub = new GatewayHub(o, (patterns, after, signal) => source.history(patterns, after, signal), logger);
  // Consumers of its own: two gateways of one instance (two `listen` calls) must not share them.
  const instanceId = `${src.instanceId}-gateway-${randomBytes(4).toString('hex')}`;
  const source = new GatewaySource({ ...src, instanceId }, (e) => hub.publish(e));
  try {
    await source.start(o.events);
  } catch (err) {
    hub.close();
    await source.close();
    throw err;
  }
  const ctx: EndpointContext = { hub, options: o, logger };
  const ws = new WsEndpoint(ctx);
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      hub.close();
      ws.close();
      await source.close();
    })());
  return {
    path: o.path,
    routes: [
      { path: `${o.path}/sse`, raw: (req, res) => serveSse(ctx, req, res), close: () => void close() },
    ],
    upgrade: (req, socket, head) => {
      if (pathOf(req) !== o.path) return false;
      ws.upgrade(req, socket, head);
      return true;
    },
    stats: () => hub.stats(),
    close,
  };
}
