import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveTokens } from '../../src/http/access.js';
import { exposureWarning, type HttpServer, type ListenOptions } from '../../src/http/server.js';
import { createRuntime } from '../../src/runtime/create-runtime.js';
import type { Runtime } from '../../src/runtime/runtime.js';
import { memoryTransport } from '../../src/transport/memory/memory-transport.js';
import { testEvents, testLogger } from '../support/events.js';
import { until } from '../support/wait.js';

type TestRuntime = Runtime<typeof testEvents.schemas>;

const READ = 'read-token-5a1e';
const ADMIN = 'admin-token-c07f';
/** In the dead letter's payload: served only to whoever may read. */
const EMAIL = 'ada@example.com';

/** A runtime with a breaker and a dead letter whose payload holds an e-mail address. */
async function runtimeWithData(): Promise<TestRuntime> {
  const rt = await createRuntime({
    service: 'accounts',
    events: testEvents,
    transport: memoryTransport(),
    logger: testLogger,
    handleSignals: false,
  });
  rt.breaker('payments');
  const sub = rt.subscribe(
    'user.created',
    () => {
      throw new Error('template missing');
    },
    { group: 'mailer', maxAttempts: 1 },
  );
  await sub.ready;
  await rt.publish('user.created', { id: '1', username: EMAIL, role: 'user' });
  await until(() => sub.stats().deadLettered === 1, 'a dead letter');
  return rt;
}

/** The token a request presents. */
type Presented = 'none' | 'read' | 'admin' | 'wrong';
const PRESENTED: readonly Presented[] = ['none', 'read', 'admin', 'wrong'];
const header = (p: Presented): Record<string, string> =>
  p === 'none' ? {} : { authorization: `Bearer ${{ read: READ, admin: ADMIN, wrong: 'nope' }[p]}` };

/** Each route the table covers, and how to call it. */
const ROUTES = {
  health: { method: 'GET', path: '/health' },
  metrics: { method: 'GET', path: '/metrics' },
  'dashboard data': { method: 'GET', path: '/dashboard/api/snapshot' },
  'dead letters': { method: 'GET', path: '/dashboard/api/dead-letters' },
  feed: { method: 'GET', path: '/dashboard/events' },
  'admin action': { method: 'POST', path: '/dashboard/api/breakers/action' },
} as const;
type RouteName = keyof typeof ROUTES;

/** Calls a route; a feed is closed as soon as its status is known. */
async function call(url: string, route: RouteName, p: Presented): Promise<{ status: number; body: string }> {
  const { method, path } = ROUTES[route];
  const abort = new AbortController();
  const res = await fetch(url + path, {
    method,
    signal: abort.signal,
    headers: { ...header(p), 'content-type': 'application/json' },
    ...(method === 'POST' && { body: JSON.stringify({ name: 'payments', action: 'reset' }) }),
  });
  if (route === 'feed') {
    abort.abort();
    return { status: res.status, body: '' };
  }
  return { status: res.status, body: await res.text() };
}

/** How the tokens are configured, and the status each (route, presented token) gets. */
interface Config {
  readonly name: string;
  readonly tokens: { readonly readToken?: string; readonly adminToken?: string };
  readonly source: 'options' | 'env';
}

/** Expected status for a route when both tokens are configured. */
function withRead(route: RouteName, p: Presented): number {
  if (route === 'health') return 200;
  if (route === 'admin action') return { none: 401, read: 403, admin: 200, wrong: 401 }[p];
  return { none: 401, read: 200, admin: 200, wrong: 401 }[p];
}

/** Expected status with an admin token only: data stays open (loopback), actions need the admin token. */
function adminOnly(route: RouteName, p: Presented): number {
  if (route === 'admin action') return p === 'admin' ? 200 : 401;
  return 200;
}

/** Expected status with no token: data open, actions disabled. */
function noTokens(route: RouteName): number {
  return route === 'admin action' ? 403 : 200;
}

const CONFIGS: readonly (Config & { expect: (route: RouteName, p: Presented) => number })[] = [
  {
    name: 'read + admin from options',
    source: 'options',
    tokens: { readToken: READ, adminToken: ADMIN },
    expect: withRead,
  },
  {
    name: 'read + admin from env',
    source: 'env',
    tokens: { readToken: READ, adminToken: ADMIN },
    expect: withRead,
  },
  { name: 'admin only from options', source: 'options', tokens: { adminToken: ADMIN }, expect: adminOnly },
  { name: 'admin only from env', source: 'env', tokens: { adminToken: ADMIN }, expect: adminOnly },
  { name: 'no token', source: 'options', tokens: {}, expect: (route) => noTokens(route) },
];

const ENV_NAMES = { readToken: 'BULWARK_READ_TOKEN', adminToken: 'BULWARK_ADMIN_TOKEN' } as const;

/** Listens with the tokens given as options, or through the environment (removed once bound). */
async function listen(rt: TestRuntime, config: Config, more: ListenOptions = {}): Promise<HttpServer> {
  if (config.source === 'options') return rt.listen({ ...config.tokens, ...more });
  for (const [key, value] of Object.entries(config.tokens))
    process.env[ENV_NAMES[key as keyof typeof ENV_NAMES]] = value;
  try {
    return await rt.listen(more);
  } finally {
    delete process.env.BULWARK_READ_TOKEN;
    delete process.env.BULWARK_ADMIN_TOKEN;
  }
}

describe.each(CONFIGS)('HTTP access with $name', (config) => {
  let rt: TestRuntime;
  let url: string;
  beforeAll(async () => {
    rt = await runtimeWithData();
    url = (await listen(rt, config)).url;
  });
  afterAll(() => rt.shutdown());

  const rows = Object.keys(ROUTES).flatMap((route) =>
    PRESENTED.map((p) => ({ route: route as RouteName, p, status: config.expect(route as RouteName, p) })),
  );
  it.each(rows)('$route with token "$p" → $status', async ({ route, p, status }) => {
    const res = await call(url, route, p);
    expect(res.status).toBe(status);
    if (route === 'dead letters' || route === 'dashboard data')
      expect(res.body.includes(EMAIL)).toBe(status === 200 && route === 'dead letters');
  });
});

/** A raw request, so that the `Host` header can be anything. */
function rawGet(url: string, path: string, host: string): Promise<{ status: number; nosniff: unknown }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ hostname, port, path, headers: { host } }, (res) => {
      res.resume();
      resolve({ status: res.statusCode ?? 0, nosniff: res.headers['x-content-type-options'] });
    });
    req.on('error', reject);
    req.end();
  });
}

describe('HTTP hardening', () => {
  let rt: TestRuntime;
  beforeAll(async () => {
    rt = await runtimeWithData();
  });
  afterAll(() => rt.shutdown());

  it('answers the bound address and localhost names by default, 421 for any other Host', async () => {
    const server = await rt.listen();
    const port = new URL(server.url).port;
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `LOCALHOST:${port}`, `[::1]:${port}`])
      expect((await rawGet(server.url, '/dashboard/api/snapshot', host)).status, host).toBe(200);
    for (const host of [
      `evil.example:${port}`,
      `localhost:${Number(port) + 1}`,
      'localhost',
      '127.0.0.1.evil.example',
    ])
      expect((await rawGet(server.url, '/dashboard/api/snapshot', host)).status, host).toBe(421);
    expect((await rawGet(server.url, '/metrics', `evil.example:${port}`)).status).toBe(421);
    expect((await rawGet(server.url, '/dashboard', `evil.example:${port}`)).status).toBe(421);
    // Liveness and readiness probes carry no data: any Host.
    expect((await rawGet(server.url, '/health/live', `10.0.0.7:${port}`)).status).toBe(200);
    expect((await rawGet(server.url, '/health/ready', 'pod.internal')).status).toBe(200);
    await server.close();
  });

  it('allowedHosts replaces the default list; "*" accepts any Host', async () => {
    const server = await rt.listen({ allowedHosts: ['dash.example.com', `metrics.example.com:9100`] });
    const port = new URL(server.url).port;
    expect((await rawGet(server.url, '/metrics', `dash.example.com:${port}`)).status).toBe(200);
    expect((await rawGet(server.url, '/metrics', 'dash.example.com')).status).toBe(200);
    expect((await rawGet(server.url, '/metrics', 'metrics.example.com:9100')).status).toBe(200);
    expect((await rawGet(server.url, '/metrics', `metrics.example.com:${port}`)).status).toBe(421);
    expect((await rawGet(server.url, '/metrics', `localhost:${port}`)).status).toBe(421);
    const any = await rt.listen({ allowedHosts: ['*'] });
    expect((await rawGet(any.url, '/metrics', 'anything.example')).status).toBe(200);
    await Promise.all([server.close(), any.close()]);
  });

  it('says X-Content-Type-Options: nosniff on every response', async () => {
    const server = await rt.listen({ readToken: READ, adminToken: ADMIN });
    const port = new URL(server.url).port;
    const host = `127.0.0.1:${port}`;
    for (const path of [
      '/health',
      '/health/live',
      '/metrics',
      '/nope',
      '/dashboard',
      '/dashboard/api/snapshot',
      '/dashboard/api/charts',
    ])
      expect((await rawGet(server.url, path, host)).nosniff, path).toBe('nosniff');
    expect((await rawGet(server.url, '/metrics', 'evil.example')).nosniff).toBe('nosniff');
    const feed = await call(server.url, 'feed', 'read');
    expect(feed.status).toBe(200);
    const post = await fetch(`${server.url}/dashboard/api/breakers/action`, { method: 'POST' });
    expect(post.headers.get('x-content-type-options')).toBe('nosniff');
    await server.close();
  });

  it('takes the Bearer scheme in any case', async () => {
    const server = await rt.listen({ readToken: READ, adminToken: ADMIN });
    for (const scheme of ['bearer', 'BEARER', 'Bearer', 'bEaReR']) {
      const res = await fetch(`${server.url}/metrics`, { headers: { authorization: `${scheme} ${READ}` } });
      expect(res.status, scheme).toBe(200);
    }
    const action = await fetch(`${server.url}/dashboard/api/breakers/action`, {
      method: 'POST',
      headers: { authorization: `bearer ${ADMIN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'payments', action: 'reset' }),
    });
    expect(action.status).toBe(200);
    const basic = await fetch(`${server.url}/metrics`, { headers: { authorization: `Basic ${READ}` } });
    expect(basic.status).toBe(401);
    expect(basic.headers.get('www-authenticate')).toBe('Bearer');
    await server.close();
  });

  it('serves at most maxFeedClients live pages; 503 beyond, and room again once one leaves', async () => {
    const server = await rt.listen({ maxFeedClients: 2 });
    const open = async () => {
      const abort = new AbortController();
      const res = await fetch(`${server.url}/dashboard/events`, { signal: abort.signal });
      return { status: res.status, res, close: () => abort.abort() };
    };
    const first = await open();
    const second = await open();
    expect([first.status, second.status]).toEqual([200, 200]);
    const third = await open();
    expect(third.status).toBe(503);
    expect(third.res.headers.get('retry-after')).toBe('5');
    first.close();
    await expect
      .poll(async () => {
        const again = await open();
        again.close();
        return again.status;
      })
      .toBe(200);
    second.close();
    await server.close();
  });

  it('warns when bound beyond loopback without a read token', () => {
    const none = resolveTokens({}, {});
    expect(exposureWarning('0.0.0.0', none)).toMatch(/beyond loopback without a read token/);
    expect(exposureWarning('10.1.2.3', resolveTokens({ adminToken: ADMIN }, {}))).toMatch(/readToken/);
    expect(exposureWarning('::', none)).toBeDefined();
    expect(exposureWarning('127.0.0.1', none)).toBeUndefined();
    expect(exposureWarning('::1', none)).toBeUndefined();
    expect(exposureWarning('0.0.0.0', resolveTokens({ readToken: READ }, {}))).toBeUndefined();
  });
});
