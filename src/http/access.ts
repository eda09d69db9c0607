import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * Who may call a route: anyone (`open`: the health probes and the dashboard's page), a holder of the
 * read or the admin token (`read`: `/metrics` and the dashboard's data), or of the admin token only
 * (`admin`: actions that change state).
 */
export const Scope = { open: 'open', read: 'read', admin: 'admin' } as const;
export type Scope = (typeof Scope)[keyof typeof Scope];

/** Where the tokens come from: the options of `rt.listen` or `dashboardRoutes`. */
export interface TokenOptions {
  /** Grants `/metrics` and the dashboard's data. @default env `BULWARK_READ_TOKEN` */
  readonly readToken?: string | undefined;
  /** Grants the dashboard's actions, and read as well. @default env `BULWARK_ADMIN_TOKEN` */
  readonly adminToken?: string | undefined;
}

/** The tokens in force, each undefined when none is configured (an empty string is none). */
export interface Tokens {
  readonly read: string | undefined;
  readonly admin: string | undefined;
}

const nonEmpty = (s: string | undefined): string | undefined => (s === undefined || s === '' ? undefined : s);

/**
 * Resolves the tokens once, options first and the environment second, so that a token behaves the
 * same whichever way it was given.
 * @example
 * const tokens = resolveTokens({ adminToken: 's3cret' }); // read: env BULWARK_READ_TOKEN
 */
export function resolveTokens(o: TokenOptions, env: NodeJS.ProcessEnv = process.env): Tokens {
  return {
    read: nonEmpty(o.readToken ?? env.BULWARK_READ_TOKEN),
    admin: nonEmpty(o.adminToken ?? env.BULWARK_ADMIN_TOKEN),
  };
}

/** @returns the credentials of an `Authorization: Bearer <token>` header (scheme in any case) */
export function bearerOf(header: string | undefined): string | undefined {
  const m = /^bearer[ \t]+(\S+)[ \t]*$/i.exec(header ?? '');
  return m?.[1];
}

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

/** Compares in constant time: both sides hashed first, so neither length nor bytes leak through timing. */
function same(given: string | undefined, wanted: string | undefined): boolean {
  if (given === undefined || wanted === undefined) return false;
  return timingSafeEqual(digest(given), digest(wanted));
}

/** Why a request was refused, or `ok`. */
export type AccessOutcome = 'ok' | 'unauthorized' | 'forbidden' | 'disabled';

/**
 * Checks a request's bearer token against a route's scope. A `read` route is open while no read
 * token is configured; an `admin` route is `disabled` while no admin token is.
 * @returns `unauthorized` for a missing or wrong token, `forbidden` for the read token on an admin route
 */
export function checkAccess(authorization: string | undefined, scope: Scope, tokens: Tokens): AccessOutcome {
  if (scope === 'open') return 'ok';
  if (scope === 'read' && tokens.read === undefined) return 'ok';
  if (scope === 'admin' && tokens.admin === undefined) return 'disabled';
  const given = bearerOf(authorization);
  if (same(given, tokens.admin)) return 'ok';
  if (same(given, tokens.read)) return scope === 'read' ? 'ok' : 'forbidden';
  return 'unauthorized';
}

const REFUSALS = {
  unauthorized: { status: 401, error: 'unauthorized: a valid bearer token is required' },
  forbidden: { status: 403, error: 'forbidden: this needs the admin token' },
  disabled: { status: 403, error: 'admin actions are disabled: no admin token is configured' },
} as const;

/** The status and JSON body of a refusal. */
export function refusal(outcome: Exclude<AccessOutcome, 'ok'>): { status: number; body: string } {
  const r = REFUSALS[outcome];
  return { status: r.status, body: JSON.stringify({ error: r.error }) };
}

/** Answers a request with the refusal `outcome` stands for. */
export function refuse(res: ServerResponse, outcome: Exclude<AccessOutcome, 'ok'>): void {
  const { status, body } = refusal(outcome);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
    ...(outcome === 'unauthorized' && { 'www-authenticate': 'Bearer' }),
  });
  res.end(body);
}

/**
 * Answers the request with a refusal unless it may use a route of `scope`.
 * @returns true when the request may go on
 */
export function admit(req: IncomingMessage, res: ServerResponse, scope: Scope, tokens: Tokens): boolean {
  const outcome = checkAccess(req.headers.authorization, scope, tokens);
  if (outcome === 'ok') return true;
  refuse(res, outcome);
  return false;
}
