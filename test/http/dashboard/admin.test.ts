import { afterEach, describe, expect, it } from 'vitest';
import { checkAccess, resolveTokens } from '../../../src/http/access.js';
import type { DashboardSnapshot } from '../../../src/http/dashboard/snapshot.js';
import { createRuntime } from '../../../src/runtime/create-runtime.js';
import type { Runtime } from '../../../src/runtime/runtime.js';
import { memoryTransport } from '../../../src/transport/memory/memory-transport.js';
import { runCli } from '../../cli/run-cli.js';
import { testEvents, testLogger } from '../../support/events.js';

const TOKEN = 's3cret-admin-token';

describe('dashboard admin API', () => {
  let rt: Runtime<typeof testEvents.schemas> | undefined;
  afterEach(async () => {
    await rt?.shutdown();
    delete process.env.BULWARK_ADMIN_TOKEN;
  });

  async function serve(adminToken?: string, readToken?: string): Promise<string> {
    rt = await createRuntime({
      service: 'accounts',
      events: testEvents,
      transport: memoryTransport(),
      logger: testLogger,
      handleSignals: false,
    });
    const server = await rt.listen({
      ...(adminToken !== undefined && { adminToken }),
      ...(readToken !== undefined && { readToken }),
    });
    return `${server.url}/dashboard`;
  }

  const post = (url: string, body: unknown, token?: string) =>
    fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token && { authorization: `Bearer ${token}` }) },
      body: JSON.stringify(body),
    });

  it('checks the bearer token (scheme in any case), and refuses everything without a configured token', () => {
    const tokens = resolveTokens({ adminToken: TOKEN, readToken: 'reader' }, {});
    const admin = (header: string | undefined) => checkAccess(header, 'admin', tokens);
    expect(admin(`Bearer ${TOKEN}`)).toBe('ok');
    expect(admin(`bearer ${TOKEN}`)).toBe('ok');
    expect(admin(`BEARER  ${TOKEN}`)).toBe('ok');
    expect(admin(`Bearer ${TOKEN}x`)).toBe('unauthorized');
    expect(admin(undefined)).toBe('unauthorized');
    expect(admin(TOKEN)).toBe('unauthorized');
    expect(admin('Basic ' + TOKEN)).toBe('unauthorized');
    expect(admin('Bearer reader')).toBe('forbidden');
    expect(checkAccess('Bearer reader', 'read', tokens)).toBe('ok');
    expect(checkAccess(`Bearer ${TOKEN}`, 'read', tokens)).toBe('ok');
    expect(checkAccess('Bearer ', 'admin', resolveTokens({}, {}))).toBe('disabled');
    expect(checkAccess('Bearer ', 'admin', resolveTokens({ adminToken: '' }, {}))).toBe('disabled');
    expect(checkAccess(undefined, 'read', resolveTokens({ adminToken: TOKEN }, {}))).toBe('ok');
  });

  it('forces a breaker with the token; 401 without, 400 on a bad body, 405 on GET; the page stays free of it', async () => {
    const base = await serve(TOKEN);
    const payments = rt!.breaker('payments');
    const action = `${base}/api/breakers/action`;
    expect((await post(action, { name: 'payments', action: 'open' })).status).toBe(401);
    expect((await post(action, { name: 'payments', action: 'open' }, 'wrong')).status).toBe(401);
    expect(payments.stats().state).toBe('CLOSED');
    expect((await post(action, { name: 'payments', action: 'explode' }, TOKEN)).status).toBe(400);
    expect((await post(action, { name: 'nope', action: 'open' }, TOKEN)).status).toBe(404);
    expect((await fetch(action)).status).toBe(405);
    const ok = await post(action, { name: 'payments', action: 'open' }, TOKEN);
    expect(await ok.json()).toEqual({ name: 'payments', state: 'OPEN' });
    expect(payments.stats()).toMatchObject({ state: 'OPEN', forced: true });
    expect((await post(`${base}/api/dead-letters/purge`, {}, TOKEN)).status).toBe(400);

    const page = await fetch(base);
    expect(page.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(await page.text()).not.toContain(TOKEN);
    const snap = (await (await fetch(`${base}/api/snapshot`)).json()) as DashboardSnapshot;
    expect(snap.adminEnabled).toBe(true);
    expect(JSON.stringify(snap)).not.toContain(TOKEN);
  });

  it('reads BULWARK_ADMIN_TOKEN; the CLI drives a non-shared breaker through it with --url', async () => {
    process.env.BULWARK_ADMIN_TOKEN = TOKEN;
    const base = await serve();
    const search = rt!.breaker('search');
    const origin = base.replace(/\/dashboard$/, '');
    const refused = await runCli(['breakers', 'open', 'search', '--url', origin, '--token', 'wrong']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^bulwark: 401/);
    const run = await runCli(['breakers', 'open', 'search', '--url', origin], { BULWARK_ADMIN_TOKEN: TOKEN });
    expect(run.stdout.trim()).toBe('search: OPEN');
    expect(search.stats().forced).toBe(true);
  });

  it('is read-only when no admin token is configured', async () => {
    const base = await serve();
    rt!.breaker('payments');
    const res = await post(`${base}/api/breakers/action`, { name: 'payments', action: 'open' }, 'anything');
    expect(res.status).toBe(403);
    expect(rt!.breakers.get('payments')?.stats().state).toBe('CLOSED');
    const snap = (await (await fetch(`${base}/api/snapshot`)).json()) as DashboardSnapshot;
    expect(snap.adminEnabled).toBe(false);
  });

  it('breakers ls --url reads with the read token (--token or BULWARK_READ_TOKEN)', async () => {
    const base = await serve(TOKEN, 'reader');
    rt!.breaker('search');
    const origin = base.replace(/\/dashboard$/, '');
    const refused = await runCli(['breakers', 'ls', '--url', origin]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^bulwark: 401/);
    const [viaEnv, viaOption] = await Promise.all([
      runCli(['breakers', 'ls', '--url', origin, '--json'], { BULWARK_READ_TOKEN: 'reader' }),
      runCli(['breakers', 'ls', '--url', origin, '--token', 'reader']),
    ]);
    expect(JSON.parse(viaEnv.stdout)).toEqual([expect.objectContaining({ name: 'search', state: 'CLOSED' })]);
    expect(viaOption.stdout).toMatch(/^STATE\s+BREAKER\s+FAILURE RATE\s+CALLS\s+REJECTED\nCLOSED\s+search/);
  });
});
