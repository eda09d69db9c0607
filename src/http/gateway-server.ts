import { openGateway } from '../gateway/gateway.js';
import type { GatewayOptions } from '../gateway/options.js';
import type { SourceContext } from '../gateway/source.js';
import type { RawRoute } from './raw-route.js';
import { serveRoutes, type HttpServer, type Route, type ServeOptions } from './server.js';

/**
 * {@link serveRoutes}, with the browser gateway of `options.gateway` when there is one: its SSE
 * route joins the table, its WebSocket takes the server's upgrades, and it closes with the server.
 * @throws {ValidationError} for bad gateway options; when the port cannot be bound
 * @example
 * const server = await serveWithGateway(routes, { port: 0, gateway: { events: ['order.*'] } }, src);
 */
export async function serveWithGateway<C>(
  routes: ReadonlyMap<string, Route | RawRoute>,
  options: ServeOptions & { readonly gateway?: GatewayOptions<C> | undefined },
  src: SourceContext,
): Promise<HttpServer> {
  if (!options.gateway) return serveRoutes(routes, options);
  const gateway = await openGateway(src, options.gateway);
  const table = new Map(routes);
  for (const r of gateway.routes) table.set(r.path, r);
  try {
    const server = await serveRoutes(table, { ...options, upgrade: gateway });
    return { ...server, gateway };
  } catch (err) {
    await gateway.close();
    throw err;
  }
}
