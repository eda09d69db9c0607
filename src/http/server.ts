import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { isIPv6, type AddressInfo } from 'node:net';
import { networkInterfaces } from 'node:os';
import type { Duplex } from 'node:stream';
import type { Gateway } from '../gateway/gateway.js';
import type { GatewayOptions } from '../gateway/options.js';
import type { Logger } from '../logging.js';
import { checkAccess, refusal, resolveTokens, type Scope, type Tokens } from './access.js';
import { defaultHosts, HostAllowlist, isLoopback } from './hosts.js';
import { isRawRoute, type RawRoute } from './raw-route.js';

/** What a route answers. */
export interface RouteResponse {
  readonly status: number;
  readonly body: string;
  /** @default 'application/json; charset=utf-8' */
  readonly contentType?: string;
}

/** One route: a path, who may call it, and its handler. */
export interface Route {
  readonly path: string;
  /** @default 'open' */
  readonly scope?: Scope;
  /** Answered whatever the `Host` header (liveness and readiness probes, which carry no data). @default false */
  readonly anyHost?: boolean;
  readonly handle: (req: IncomingMessage) => RouteResponse | Promise<RouteResponse>;
}

/** Options of `rt.listen`; `C` is what the gateway's `authorize` returns for a user. */
export interface ListenOptions<C = unknown> {
  /** @default 0 (any free port) */
  port?: number;
  /** @default '127.0.0.1' */
  host?: string;
  /**
   * Required (`Authorization: Bearer <token>`) by `/metrics` and the dashboard's data, dead-letter
   * payloads included; without one they are open, and binding beyond loopback logs a warning.
   * @default env `BULWARK_READ_TOKEN`
   */
  readToken?: string;
  /**
   * Required by the dashboard's actions (purge, redrive, forcing breakers, pausing queues), which are off without
   * one; it grants read as well. @default env `BULWARK_ADMIN_TOKEN`
   */
  adminToken?: string;
  /**
   * `Host` headers answered (`name:port`, or `name` for any port; `'*'` for any), against DNS
   * rebinding. `/health/live` and `/health/ready` answer any.
   * @default the bound address, `localhost`, `127.0.0.1` and `[::1]`, with the port (and every
   * interface's address when bound to `0.0.0.0` or `::`)
   */
  allowedHosts?: readonly string[];
  /** Live dashboard pages served at once; more are refused with 503. @default 64 */
  maxFeedClients?: number;
  /**
   * The browser gateway: WebSocket at `/events`, server-sent events at `/events/sse`; see
   * `docs/gateway.md`. Its endpoints answer the allowed `Host`s only, and check no token:
   * `authorize` decides. @default none
   */
  gateway?: GatewayOptions<C>;
}

/** Takes a server's HTTP upgrades (the gateway's WebSocket). */
export interface UpgradeHandler {
  /** @returns false when the request's path is not one it serves (the socket is then refused 404) */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean;
  /** Ends its connections; the server awaits it before closing. */
  close(): Promise<void>;
}

/** Options of {@link serveRoutes}: those of `rt.listen`, and where to log. */
export interface ServeOptions extends ListenOptions {
  /** Told when the server is bound beyond loopback without a read token. */
  readonly logger?: Logger;
  /** Takes HTTP upgrades after the `Host` check; without one, every upgrade is refused. */
  readonly upgrade?: UpgradeHandler;
}

/** A listening HTTP server. */
export interface HttpServer {
  /** e.g. `http://127.0.0.1:40123` */
  readonly url: string;
  /** Stops accepting connections and closes idle ones; resolves once closed. Idempotent. */
  close(): Promise<void>;
  /** The browser gateway, when `rt.listen` was given one: its counters (`stats()`). */
  readonly gateway?: Pick<Gateway, 'stats' | 'path'>;
}

const json = 'application/json; charset=utf-8';

function routeOf<R>(routes: ReadonlyMap<string, R>, req: IncomingMessage): R | undefined {
  const path = new URL(req.url ?? '/', 'http://localhost').pathname;
  return routes.get(path.length > 1 ? path.replace(/\/$/, '') : path);
}

async function answer(
  route: Route | undefined,
  tokens: Tokens,
  req: IncomingMessage,
): Promise<RouteResponse> {
  if (req.method !== 'GET' && req.method !== 'HEAD')
    return { status: 405, body: '{"error":"method not allowed"}' };
  if (!route) return { status: 404, body: '{"error":"not found"}' };
  const outcome = checkAccess(req.headers.authorization, route.scope ?? 'open', tokens);
  if (outcome !== 'ok') return refusal(outcome);
  return route.handle(req);
}

function fail(res: ServerResponse, err: unknown): void {
  if (!res.headersSent) res.writeHead(500, { 'content-type': json });
  res.end(JSON.stringify({ error: err instanceof Error ? err.message : String(err) }));
}

/** Answers one request: the `Host` check, then the raw route or the route table. */
function handler(
  routes: ReadonlyMap<string, Route | RawRoute>,
  tokens: Tokens,
  hosts: () => HostAllowlist,
): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    // Every response, raw routes' included: no content sniffing.
    res.setHeader('x-content-type-options', 'nosniff');
    const route = routeOf(routes, req);
    const anyHost = route !== undefined && !isRawRoute(route) && route.anyHost === true;
    if (!anyHost && !hosts().allows(req.headers.host)) {
      res.writeHead(421, { 'content-type': json, 'cache-control': 'no-store' });
      return void res.end('{"error":"this server does not answer for that Host"}');
    }
    if (route && isRawRoute(route)) {
      Promise.resolve()
        .then(() => route.raw(req, res))
        .catch((err: unknown) => fail(res, err));
      return;
    }
    answer(route, tokens, req).then(
      (r) => {
        const auth = r.status === 401 ? { 'www-authenticate': 'Bearer' } : {};
        res.writeHead(r.status, {
          'content-type': r.contentType ?? json,
          'cache-control': 'no-store',
          ...auth,
        });
        res.end(req.method === 'HEAD' ? undefined : r.body);
      },
      (err: unknown) => fail(res, err),
    );
  };
}

/** Refuses an upgrade with a status and closes the socket. */
function refuseUpgrade(socket: Duplex, status: 404 | 421): void {
  const body =
    status === 404 ? '{"error":"not found"}' : '{"error":"this server does not answer for that Host"}';
  socket.end(
    `HTTP/1.1 ${status} ${status === 404 ? 'Not Found' : 'Misdirected Request'}\r\n` +
      `Content-Type: application/json; charset=utf-8\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
  );
}

/** The server's `upgrade` listener: the `Host` check, then the handler (404 without one). */
function upgrades(
  hosts: () => HostAllowlist,
  handler: UpgradeHandler | undefined,
): (req: IncomingMessage, socket: Duplex, head: Buffer) => void {
  return (req, socket, head) => {
    socket.on('error', () => socket.destroy());
    if (!hosts().allows(req.headers.host)) return refuseUpgrade(socket, 421);
    if (!handler?.upgrade(req, socket, head)) refuseUpgrade(socket, 404);
  };
}

/**
 * What to warn of when a server bound to `address` serves data without a read token.
 * @returns the warning, or undefined on loopback or with a read token
 */
export function exposureWarning(address: string, tokens: Tokens): string | undefined {
  if (isLoopback(address) || tokens.read !== undefined) return undefined;
  return (
    'listening beyond loopback without a read token: /metrics and the dashboard data (dead-letter ' +
    'payloads included) are open to anyone who reaches this address; set readToken or BULWARK_READ_TOKEN'
  );
}

/**
 * Serves a route table on node:http; routes can be added later. A route answers only requests
 * whose token meets its scope; a raw route (the dashboard's) checks its own. Every response says
 * `X-Content-Type-Options: nosniff`, and a `Host` not in `allowedHosts` is answered 421.
 * @throws when the port cannot be bound
 * @example
 * const server = await serveRoutes(routes, { port: 0, readToken: process.env.METRICS_TOKEN });
 * console.log(server.url);
 */
export async function serveRoutes(
  routes: ReadonlyMap<string, Route | RawRoute>,
  opts: ServeOptions = {},
): Promise<HttpServer> {
  const tokens = resolveTokens(opts);
  // Known once bound (the port may be any free one); nothing is answered before.
  const hosts = { allowed: new HostAllowlist([]) };
  const server = createServer(handler(routes, tokens, () => hosts.allowed));
  server.on(
    'upgrade',
    upgrades(() => hosts.allowed, opts.upgrade),
  );
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { address, port } = server.address() as AddressInfo;
  hosts.allowed = new HostAllowlist(opts.allowedHosts ?? defaultHosts(address, port));
  const warning = exposureWarning(address, tokens);
  if (warning) opts.logger?.warn({ address, port }, warning);
  const host = address.includes(':') ? `[${address}]` : address;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${host}:${port}`,
    close: () =>
      (closing ??= (async () => {
        // Open sockets (WebSockets) end first: the server closes once no connection is left.
        await opts.upgrade?.close();
        await new Promise<void>((resolve) => {
          for (const r of routes.values()) if (isRawRoute(r)) r.close?.();
          server.close(() => resolve());
          server.closeIdleConnections();
        });
      })()),
  };
}

/** Options of `rt.http.handler()`: the tokens and `Host` allowlist of `rt.listen`. */
export interface HandlerOptions {
  /** As `rt.listen`'s: needed by `/metrics` when set. @default env `BULWARK_READ_TOKEN` */
  readToken?: string;
  /** As `rt.listen`'s (it grants read too). @default env `BULWARK_ADMIN_TOKEN` */
  adminToken?: string;
  /**
   * `Host` headers answered (`name:port`, or `name` for any port; `'*'` for any). The handler
   * does not know the port it is served on. `/health/live` and `/health/ready` answer any.
   * @default `localhost`, `127.0.0.1`, `[::1]` and every interface's address, on any port
   */
  allowedHosts?: readonly string[];
}

/**
 * A request handler for a server of your own: node:http's `(req, res)`, or express/connect
 * middleware `(req, res, next)` that passes on the paths it does not serve.
 */
export type RequestHandler = (
  req: IncomingMessage,
  res: ServerResponse,
  next?: (err?: unknown) => void,
) => void;

/** The names a mounted handler answers by default: loopback and this machine's addresses, any port. */
function localHostNames(): string[] {
  const names = new Set(['localhost', '127.0.0.1', '[::1]']);
  for (const list of Object.values(networkInterfaces()))
    for (const i of list ?? []) names.add(isIPv6(i.address) ? `[${i.address}]` : i.address);
  return [...names];
}

/**
 * A route table as a handler to mount in a server of your own, with the same token and `Host`
 * checks as {@link serveRoutes}. Without `next`, a path it does not serve is answered 404.
 * @example
 * http.createServer(mountRoutes(runtimeRoutes(rt), { readToken })).listen(8080);
 * app.use(mountRoutes(runtimeRoutes(rt))); // express: other paths go on to the next middleware
 */
export function mountRoutes(
  routes: ReadonlyMap<string, Route | RawRoute>,
  opts: HandlerOptions = {},
): RequestHandler {
  const allowed = new HostAllowlist(opts.allowedHosts ?? localHostNames());
  const answer = handler(routes, resolveTokens(opts), () => allowed);
  return (req, res, next) => {
    if (next && !routeOf(routes, req)) return next();
    answer(req, res);
  };
}
