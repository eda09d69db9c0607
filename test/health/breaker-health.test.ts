import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createRuntime } from '../../src/runtime/create-runtime.js';
import type { Runtime } from '../../src/runtime/runtime.js';
import { httpCheck, isCircuitOpenError, memoryCheck, protect } from '../../src/index.js';
import type { HealthReport, HealthStatus } from '../../src/health/types.js';
import { testEvents, testLogger } from '../support/events.js';
import { poll, until } from '../support/wait.js';

const runtimes: Runtime[] = [];
const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(runtimes.splice(0).map((rt) => rt.shutdown()));
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((resolve) => s.close(resolve));
  }
});

async function runtime(): Promise<Runtime> {
  const rt = await createRuntime({
    service: 'shop',
    events: testEvents,
    logger: testLogger,
    handleSignals: false,
  });
  runtimes.push(rt as unknown as Runtime);
  return rt as unknown as Runtime;
}

/** A dependency's health endpoint on 127.0.0.1: 200 until `failing`, then 500. */
async function dependency(): Promise<{ url: string; fail(on: boolean): void }> {
  let failing = false;
  const server = createServer((_req, res) => res.writeHead(failing ? 500 : 200).end());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push(server);
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/health`, fail: (on) => (failing = on) };
}

class CrmClient {
  calls = 0;
  async lookup(id: string): Promise<string> {
    this.calls++;
    if (id === 'bad') throw new Error('crm is down');
    return `customer ${id}`;
  }
}

async function getHealth(url: string): Promise<HealthReport> {
  return (await (await fetch(`${url}/health`)).json()) as HealthReport;
}

describe('breakers in health', () => {
  it('a protected adapter whose breaker opens makes /health DEGRADED within a second', async () => {
    const rt = await runtime();
    const crm = protect(new CrmClient(), {
      breaker: rt.breaker('crm', { failureThreshold: 1, resetTimeoutMs: 60_000 }),
    });
    const server = await rt.listen();
    const before = await getHealth(server.url);
    expect(before.status).toBe('HEALTHY');
    expect(before.services['CrmClient:crm']).toMatchObject({
      name: 'CrmClient',
      status: 'HEALTHY',
      breaker: 'crm',
      tags: ['protected'],
    });

    await expect(crm.lookup('bad')).rejects.toThrow('crm is down');
    const opened = Date.now();
    let report = await getHealth(server.url);
    while (report.status !== 'DEGRADED' && Date.now() - opened < 1_000) report = await getHealth(server.url);
    expect(Date.now() - opened).toBeLessThan(1_000);
    expect(report.status).toBe('DEGRADED');
    expect(report.services['CrmClient:crm']?.status).toBe('DEGRADED');
    expect(report.circuitBreakers['crm']).toMatchObject({ state: 'OPEN' });
  });

  it('protecting the same adapter twice with one breaker registers it once', async () => {
    const rt = await runtime();
    const breaker = rt.breaker('crm');
    protect(new CrmClient(), { breaker });
    protect(new CrmClient(), { breaker: 'crm' });
    expect(breaker.protectedBy).toEqual(['CrmClient', 'CrmClient']);
    expect(Object.keys((await rt.health.report()).services)).toEqual(['CrmClient:crm']);
  });

  it('an OPEN breaker that no service names makes the runtime DEGRADED', async () => {
    const rt = await runtime();
    const breaker = rt.breaker('loner', { failureThreshold: 1 });
    await breaker.execute(() => Promise.reject(new Error('down'))).catch(() => undefined);
    const report = await rt.health.report();
    expect(report.services).toEqual({});
    expect(report.status).toBe('DEGRADED');
  });

  it('health: false leaves an OPEN breaker out of health, and protect() registers nothing for it', async () => {
    const rt = await runtime();
    const breaker = rt.breaker('noisy', { failureThreshold: 1, health: false });
    const client = protect(new CrmClient(), { breaker });
    await expect(client.lookup('bad')).rejects.toThrow();
    expect(breaker.state).toBe('OPEN');
    const report = await rt.health.report();
    expect(report.status).toBe('HEALTHY');
    expect(report.services).toEqual({});
    expect(rt.actors.list({ kind: 'breaker' })).toEqual([
      expect.objectContaining({ id: 'breaker:noisy', state: 'OPEN' }),
    ]);
  });
});

describe('a breaker following a health check', () => {
  it('opens while a critical httpCheck fails, and closes (via HALF_OPEN) once the server recovers', async () => {
    const rt = await runtime();
    const api = await dependency();
    rt.health.register(httpCheck('crm-api', api.url, { timeoutMs: 500, critical: true }));
    rt.health.start(20);
    const breaker = rt.breaker('crm', { healthCheck: 'crm-api', resetTimeoutMs: 60_000 });
    const states: string[] = [];
    breaker.on('stateChange', ({ to }) => states.push(to));
    const crm = protect(new CrmClient(), { breaker });

    api.fail(true);
    await until(() => breaker.state === 'OPEN', 'the breaker opens with the check');
    const down = await rt.health.report();
    expect(down.status).toBe('UNHEALTHY');
    expect(down.checks['crm-api']).toMatchObject({
      status: 'UNHEALTHY',
      message: 'HTTP 500',
      critical: true,
    });
    const refused = await crm.lookup('1').catch((e: unknown) => e);
    expect(isCircuitOpenError(refused)).toBe(true);

    api.fail(false);
    await until(() => breaker.state === 'HALF_OPEN', 'the breaker lets a trial through');
    expect(await crm.lookup('1')).toBe('customer 1');
    expect(breaker.state).toBe('CLOSED');
    expect(states).toEqual(['OPEN', 'HALF_OPEN', 'CLOSED']);
    await poll(
      () => rt.health.report(),
      (r) => r.status === 'HEALTHY',
      'healthy again',
    );
  });

  it('stays OPEN past its reset delay while the check is UNHEALTHY', async () => {
    const rt = await runtime();
    let healthy = false;
    rt.health.register({ name: 'db', check: () => ({ healthy }) });
    const breaker = rt.breaker('db', { healthCheck: 'db', resetTimeoutMs: 10 });
    await rt.health.report();
    expect(breaker.state).toBe('OPEN');
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(breaker.state).toBe('OPEN');
    healthy = true;
    await rt.health.report();
    expect(breaker.state).toBe('HALF_OPEN');
  });

  it('a breaker made after its check failed starts OPEN', async () => {
    const rt = await runtime();
    rt.health.register({ name: 'db', check: () => ({ healthy: false }) });
    await rt.health.report();
    expect(rt.breaker('db', { healthCheck: 'db' }).state).toBe('OPEN');
  });
});

describe('registerService({ check })', () => {
  it("counts the service's own check in its status, reports it as a check, and removes both", async () => {
    const rt = await runtime();
    let status: HealthStatus = 'HEALTHY';
    const off = rt.health.registerService({
      id: 'search',
      name: 'Search',
      check: { name: 'search-ping', check: () => ({ healthy: status === 'HEALTHY', status }) },
    });
    expect((await rt.health.report()).services['search']?.status).toBe('HEALTHY');
    status = 'UNHEALTHY';
    const down = await rt.health.report();
    expect(down.checks['search-ping']?.status).toBe('UNHEALTHY');
    expect(down.services['search']?.status).toBe('DEGRADED'); // not critical
    expect(down.status).toBe('DEGRADED');
    off();
    const after = await rt.health.report();
    expect(after.checks['search-ping']).toBeUndefined();
    expect(after.services['search']).toBeUndefined();
    expect(after.status).toBe('HEALTHY');
  });

  it('the worse of the breaker and the check decides a critical service', async () => {
    const rt = await runtime();
    const breaker = rt.breaker('search', { failureThreshold: 1 });
    let healthy = true;
    rt.health.registerService({
      id: 'search',
      name: 'Search',
      critical: true,
      circuitBreaker: breaker,
      check: { name: 'search-ping', check: () => ({ healthy }) },
    });
    await breaker.execute(() => Promise.reject(new Error('x'))).catch(() => undefined);
    expect((await rt.health.report()).services['search']?.status).toBe('UNHEALTHY');
    breaker.close();
    expect((await rt.health.report()).services['search']?.status).toBe('HEALTHY');
    healthy = false;
    expect((await rt.health.report()).services['search']?.status).toBe('UNHEALTHY');
  });
});

describe('watchCheck', () => {
  it('tells each change of a check, and the current status when it has run', async () => {
    const rt = await runtime();
    let healthy = true;
    rt.health.register({ name: 'db', check: () => ({ healthy }) });
    const seen: HealthStatus[] = [];
    const off = rt.health.watchCheck('db', (s) => seen.push(s));
    await rt.health.report();
    await rt.health.report();
    healthy = false;
    await rt.health.report();
    const late: HealthStatus[] = [];
    rt.health.watchCheck('db', (s) => late.push(s));
    off();
    healthy = true;
    await rt.health.report();
    expect(seen).toEqual(['HEALTHY', 'UNHEALTHY']);
    expect(late).toEqual(['UNHEALTHY', 'HEALTHY']);
  });
});

describe('built-in checks', () => {
  it('a check named like a built-in one replaces it, once', async () => {
    const rt = await runtime();
    rt.health.register(memoryCheck({ maxHeapRatio: 1e-9 }));
    const report = await rt.health.report();
    expect(report.checks['memory']?.status).toBe('UNHEALTHY');
    expect(report.checks['memory']?.message).toMatch(/\(max 0%\)$/);
    expect(() => rt.health.register(memoryCheck())).toThrow(/already registered/);
  });
});
