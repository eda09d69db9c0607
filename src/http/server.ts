import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { timingSafeEqual } from 'node:crypto';
import { isRawRoute, type RawRoute } from './raw-route.js';

/** What a route answers. */
export interface RouteResponse {
  readonly status: number;
  readonly body: string;
  /** @default 'application/json; charset=utf-8' */
  readonly contentType?: string;
}

/** One route: a path and its handler. `admin: true` routes require the admin token when one is set. */
export interface Route {
  readonly path: string;
  readonly admin?: boolean;
  readonly handle: (req: IncomingMessage) => RouteResponse | Promise<RouteResponse>;
}

/** Options of `rt.listen`. */
export interface ListenOptions {
  /** @default 0 (any free port) */
  port?: number;
  /** @default '127.0.0.1' */
  host?: string;
  /**
   * When set, admin routes (`/metrics`) require `Authorization: Bearer <token>`; the dashboard's
   * actions require it always (env `BULWARK_ADMIN_TOKEN` when not given; without either they are off).
   */
  adminToken?: string;
}

/** A listening HTTP server. */
export interface HttpServer {
  /** e.g. `http://127.0.0.1:40123` */
  readonly url: string;
  /** Stops accepting connections and closes idle ones; resolves once closed. Idempotent. */
  close(): Promise<void>;
}

const json = 'application/json; charset=utf-8';

function authorized(req: IncomingMessage, token: string | undefined): boolean {
  if (token === undefined) return true;
  const given = Buffer.from(req.headers.authorization ?? '');
  const wanted = Buffer.from(`Bearer ${token}`);
  return given.length === wanted.length && timingSafeEqual(given, wanted);
}

function routeOf<R>(routes: ReadonlyMap<string, R>, req: IncomingMessage): R | undefined {
  const path = new URL(req.url ?? '/', 'http://localhost').pathname;
  return routes.get(path.length > 1 ? path.replace(/\/$/, '') : path);
}

async function answer(
  routes: ReadonlyMap<string, Route | RawRoute>,
  opts: ListenOptions,
  req: IncomingMessage,
): Promise<RouteResponse> {
  if (req.method !== 'GET' && req.method !== 'HEAD')
    return { status: 405, body: '{"error":"method not allowed"}' };
  const route = routeOf(routes, req);
  if (!route || isRawRoute(route)) return { status: 404, body: '{"error":"not found"}' };
  if (route.admin && !authorized(req, opts.adminToken))
    return { status: 401, body: '{"error":"unauthorized"}' };
  return route.handle(req);
}

/**
 * Serves a route table on node:http; routes can be added later. A raw route (the dashboard's)
 * answers by itself, whatever the method; its `close()` runs when the server closes.
 * @throws when the port cannot be bound
 * @example
 * const server = await serveRoutes(routes, { port: 0 });
 * console.log(server.url);
 */
export async function serveRoutes(
  routes: ReadonlyMap<string, Route | RawRoute>,
  opts: ListenOptions = {},
): Promise<HttpServer> {
  const server = createServer((req, res: ServerResponse) => {
    const raw = routeOf(routes, req);
    if (raw && isRawRoute(raw)) {
      Promise.resolve()
        .then(() => raw.raw(req, res))
        .catch((err: unknown) => {
          if (!res.headersSent) res.writeHead(500, { 'content-type': json });
          res.end(JSON.stringify({ error: err instanceof Error ? err.message : String(err) }));
        });
      return;
    }
    answer(routes, opts, req).then(
      (r) => {
        res.writeHead(r.status, { 'content-type': r.contentType ?? json, 'cache-control': 'no-store' });
        res.end(req.method === 'HEAD' ? undefined : r.body);
      },
      (err: unknown) => {
        res.writeHead(500, { 'content-type': json });
        res.end(JSON.stringify({ error: err instanceof Error ? err.message : String(err) }));
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { address, port } = server.address() as AddressInfo;
  const host = address.includes(':') ? `[${address}]` : address;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${host}:${port}`,
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        for (const r of routes.values()) if (isRawRoute(r)) r.close?.();
        server.close(() => resolve());
        server.closeIdleConnections();
      })),
  };
}
