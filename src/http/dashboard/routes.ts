import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../../logging.js';
import type { DeadLetterReason } from '../../transport/dead-letters.js';
import { admit, resolveTokens, type Scope, type TokenOptions, type Tokens } from '../access.js';
import type { RawRoute } from '../raw-route.js';
import type { Route } from '../server.js';
import { AdminActions, sendJson } from './admin.js';
import { DashboardFeed } from './feed.js';
import { dashboardPage } from './page.js';
import { QueueBoards } from './queue-rows.js';
import { readSnapshot, StatusSince, type DashboardSnapshot, type DashboardSource } from './snapshot.js';
import { DASHBOARD_CHARTS } from './charts.generated.js';

/** Options of {@link dashboardRoutes}. */
export interface DashboardOptions extends TokenOptions {
  /**
   * Required by every admin action, and grants read too; without one the dashboard is read-only.
   * @default env `BULWARK_ADMIN_TOKEN`
   */
  readonly adminToken?: string | undefined;
  /**
   * Required by the dashboard's data (snapshot, live feed, dead letters with their payloads, charts);
   * without one (nor an admin token given instead) they are open. @default env `BULWARK_READ_TOKEN`
   */
  readonly readToken?: string | undefined;
  /** Live pages served at once; more are refused with 503. @default 64 */
  readonly maxFeedClients?: number;
  /** Where the dashboard is served. @default '/dashboard' */
  readonly base?: string;
  /** @default 1_000 */
  readonly refreshMs?: number;
  readonly logger?: Logger;
}

/** The dashboard's routes and a way to end its live streams. */
export interface Dashboard {
  readonly routes: readonly RawRoute[];
  /** Tells connected pages to update now (e.g. after a health change). */
  changed(): void;
  /** Ends every live stream; idempotent. Called when the server closes. */
  close(): void;
}

const REASONS: readonly string[] = ['handler', 'validation', 'decode', 'timeout'];

function query(req: IncomingMessage): URLSearchParams {
  return new URL(req.url ?? '/', 'http://localhost').searchParams;
}

function onlyGet(req: IncomingMessage, res: ServerResponse): boolean {
  if (req.method === 'GET' || req.method === 'HEAD') return true;
  sendJson(res, 405, { error: 'method not allowed' }, { allow: 'GET' });
  return false;
}

function servePage(req: IncomingMessage, res: ServerResponse, base: string): void {
  if (!onlyGet(req, res)) return;
  const nonce = randomBytes(16).toString('base64');
  res.writeHead(200, {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    'content-security-policy': `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
  });
  res.end(req.method === 'HEAD' ? undefined : dashboardPage(nonce, base));
}

let charts: string | undefined;

/** `GET …/api/charts`: every machine the dashboard draws, laid out when the dashboard was built. */
function serveCharts(req: IncomingMessage, res: ServerResponse): void {
  if (!onlyGet(req, res)) return;
  charts ??= JSON.stringify(DASHBOARD_CHARTS);
  res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(charts);
}

/** `GET …/api/dead-letters?type=&group=&reason=&limit=`: newest last, at most 1 000. */
async function serveDeadLetters(
  src: DashboardSource,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  if (!onlyGet(req, res)) return;
  const q = query(req);
  const reason = q.get('reason');
  const list = await src.deadLetters.list({
    limit: Math.min(Math.max(Number(q.get('limit') ?? 100) || 100, 1), 1_000),
    ...(q.get('type') && { type: q.get('type')! }),
    ...(q.get('group') && { group: q.get('group')! }),
    ...(reason && REASONS.includes(reason) && { reason: reason as DeadLetterReason }),
  });
  sendJson(res, 200, list);
}

function feedOf(
  src: DashboardSource,
  read: () => Promise<DashboardSnapshot>,
  opts: DashboardOptions,
): DashboardFeed {
  return new DashboardFeed({
    read,
    breakers: () => src.breakers.list(),
    watch: (changed) => {
      const offs = [src.supervisor?.onNotice(changed), src.transport?.onStatus?.(changed)];
      return () => offs.forEach((off) => off?.());
    },
    ...(opts.refreshMs !== undefined && { refreshMs: opts.refreshMs }),
    ...(opts.maxFeedClients !== undefined && { maxClients: opts.maxFeedClients }),
    ...(opts.logger && { logger: opts.logger }),
  });
}

/** A raw route that answers only requests whose token meets `scope`. */
function scoped(scope: Scope, tokens: Tokens, raw: RawRoute['raw']): RawRoute['raw'] {
  return (req, res) => (admit(req, res, scope, tokens) ? raw(req, res) : undefined);
}

/**
 * The live dashboard: the page (open: it holds no data), its server-sent events and the JSON it is
 * built from (read token), and the admin actions (admin token). Tokens are checked by the routes
 * themselves, wherever they are mounted.
 * @example
 * const dashboard = dashboardRoutes(rt, { readToken: process.env.BULWARK_READ_TOKEN });
 * for (const route of dashboard.routes) routes.set(route.path, route);
 */
export function dashboardRoutes(src: DashboardSource, opts: DashboardOptions = {}): Dashboard {
  const base = opts.base ?? '/dashboard';
  const tokens = resolveTokens(opts);
  const since = new StatusSince();
  const boards = new QueueBoards(src.transport);
  const read = () => readSnapshot(src, { adminEnabled: tokens.admin !== undefined, since, boards });
  const feed = feedOf(src, read, opts);
  const close = (): void => {
    feed.close();
    boards.close();
  };
  const admin = new AdminActions(src, tokens, opts.logger);
  const data = (raw: RawRoute['raw']): RawRoute['raw'] => scoped('read', tokens, raw);
  const routes: RawRoute[] = [
    { path: base, raw: (req, res) => servePage(req, res, base) },
    {
      path: `${base}/events`,
      raw: data((req, res) =>
        req.method === 'GET' ? feed.attach(req, res) : onlyGet(req, res) && res.end(),
      ),
      close,
    },
    {
      path: `${base}/api/snapshot`,
      raw: data(async (req, res) => void (onlyGet(req, res) && sendJson(res, 200, await read()))),
    },
    { path: `${base}/api/charts`, raw: data(serveCharts) },
    { path: `${base}/api/dead-letters`, raw: data((req, res) => serveDeadLetters(src, req, res)) },
    { path: `${base}/api/dead-letters/redrive`, raw: admin.redrive },
    { path: `${base}/api/dead-letters/purge`, raw: admin.purge },
    { path: `${base}/api/breakers/action`, raw: admin.breaker },
    { path: `${base}/api/queues/action`, raw: admin.queue },
  ];
  const wrapped = routes.map((r) => ({ ...r, raw: withActionPush(r.raw, feed) }));
  return { routes: wrapped, changed: () => feed.changed(), close };
}

/** After any POST, pages update at once rather than on the next refresh. */
function withActionPush(raw: RawRoute['raw'], feed: DashboardFeed): RawRoute['raw'] {
  return async (req, res) => {
    await raw(req, res);
    if (req.method === 'POST') feed.changed(0);
  };
}

/**
 * A route table with the dashboard added under `/dashboard`: what `rt.listen` serves.
 * @example
 * const server = await serveRoutes(withDashboard(runtimeRoutes(rt), rt, options), options);
 */
export function withDashboard(
  routes: ReadonlyMap<string, Route>,
  src: DashboardSource,
  opts: DashboardOptions = {},
): Map<string, Route | RawRoute> {
  const dashboard = dashboardRoutes(src, opts);
  return new Map<string, Route | RawRoute>([...routes, ...dashboard.routes.map((r) => [r.path, r] as const)]);
}
