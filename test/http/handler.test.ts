import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import { createRuntime } from '../../src/runtime/create-runtime.js';
import type { Runtime } from '../../src/runtime/runtime.js';
import { testEvents, testLogger } from '../support/events.js';

const runtimes: Runtime[] = [];
const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((resolve) => s.close(resolve));
  }
  await Promise.all(runtimes.splice(0).map((rt) => rt.shutdown()));
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

async function listen(server: Server): Promise<string> {
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const get = (url: string) => fetch(url);

/** node:http's client, so that the `Host` header can be anything (fetch sets its own). */
function status(url: string, headers: Record<string, string>): Promise<number> {
  const { hostname, port, pathname } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ hostname, port, path: pathname, headers }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('rt.http.handler()', () => {
  it('serves health, its Kubernetes aliases and metrics in a plain node:http server', async () => {
    const rt = await runtime();
    rt.breaker('stripe');
    const url = await listen(createServer(rt.http.handler()));
    for (const path of ['/health', '/healthz']) {
      const res = await get(`${url}${path}`);
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ status: 'HEALTHY', service: 'shop' });
    }
    for (const path of ['/health/live', '/livez'])
      expect(await (await get(`${url}${path}`)).json()).toEqual({ status: 'UP' });
    for (const path of ['/health/ready', '/readyz']) {
      const res = await get(`${url}${path}`);
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ status: 'READY', ready: true });
    }
    const metrics = await get(`${url}/metrics`);
    expect(metrics.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(await metrics.text()).toMatch(/^bulwark_breakers\{state="CLOSED",service="shop"\} 1$/m);
    expect((await get(`${url}/elsewhere`)).status).toBe(404);
  });

  it('answers 503 on /healthz and /readyz when UNHEALTHY or not ready', async () => {
    const rt = await runtime();
    rt.health.register({ name: 'db', critical: true, check: () => ({ healthy: false }) });
    const url = await listen(createServer(rt.http.handler()));
    expect((await get(`${url}/healthz`)).status).toBe(503);
    void rt.shutdown();
    expect((await get(`${url}/readyz`)).status).toBe(503);
  });

  it('asks for the read token on /metrics and refuses other Hosts, as rt.listen does', async () => {
    const rt = await runtime();
    const url = await listen(
      createServer(rt.http.handler({ readToken: 'r3ad', allowedHosts: ['shop.internal'] })),
    );
    const host = { host: 'shop.internal' };
    expect(await status(`${url}/metrics`, host)).toBe(401);
    expect(await status(`${url}/metrics`, { ...host, authorization: 'Bearer wrong' })).toBe(401);
    expect(await status(`${url}/metrics`, { ...host, authorization: 'Bearer r3ad' })).toBe(200);
    expect((await get(`${url}/health`)).status).toBe(421); // Host 127.0.0.1:<port> is not allowed
    expect((await get(`${url}/livez`)).status).toBe(200); // probes answer any Host
  });

  it('answers loopback Hosts on any port by default', async () => {
    const rt = await runtime();
    const url = await listen(createServer(rt.http.handler()));
    expect(await status(`${url}/health`, { host: 'localhost:9999' })).toBe(200);
    expect(await status(`${url}/health`, { host: 'evil.example:80' })).toBe(421);
  });

  it('works as express middleware, passing other paths on, also mounted under a prefix', async () => {
    const rt = await runtime();
    const app = express();
    app.use(rt.http.handler());
    app.use('/ops', rt.http.handler());
    app.get('/orders', (_req, res) => void res.json({ orders: [] }));
    const url = await listen(createServer(app));
    expect(await (await get(`${url}/orders`)).json()).toEqual({ orders: [] });
    expect(await (await get(`${url}/healthz`)).json()).toMatchObject({ status: 'HEALTHY' });
    expect(await (await get(`${url}/ops/readyz`)).json()).toMatchObject({ status: 'READY' });
    expect(await (await get(`${url}/ops/metrics`)).text()).toMatch(/bulwark_health_status/);
    expect((await get(`${url}/nothing-here`)).status).toBe(404); // express's own 404
  });
});

describe('rt.listen', () => {
  it('serves the Kubernetes aliases too', async () => {
    const rt = await runtime();
    const server = await rt.listen();
    expect(await (await get(`${server.url}/healthz`)).json()).toMatchObject({ status: 'HEALTHY' });
    expect(await (await get(`${server.url}/livez`)).json()).toEqual({ status: 'UP' });
    expect((await get(`${server.url}/readyz`)).status).toBe(200);
  });
});
