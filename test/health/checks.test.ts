import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { envCheck, eventLoopCheck, httpCheck, memoryCheck } from '../../src/index.js';
import { isValidationError } from '../../src/errors.js';

/** A local server answering `status()` (or never, while `hang`). */
async function statusServer(status: () => number | 'hang'): Promise<{ url: string; server: Server }> {
  const server = createServer((_req, res) => {
    const s = status();
    if (s === 'hang') return;
    res.writeHead(s, { 'content-type': 'text/plain' }).end('body that is not read');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/health`, server };
}

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((resolve) => s.close(resolve));
  }
});

describe('httpCheck', () => {
  it('is healthy on 2xx and unhealthy on another status, saying which', async () => {
    let status = 200;
    const { url, server } = await statusServer(() => status);
    servers.push(server);
    const check = httpCheck('api', url, { timeoutMs: 1_000, critical: true });
    expect(check).toMatchObject({ name: 'api', critical: true });
    expect(await check.check()).toEqual({ healthy: true, message: 'HTTP 200' });
    status = 503;
    expect(await check.check()).toEqual({ healthy: false, message: 'HTTP 503' });
  });

  it('accepts only the expected statuses when told', async () => {
    const { url, server } = await statusServer(() => 204);
    servers.push(server);
    expect((await httpCheck('a', url, { expectStatus: 200 }).check()).healthy).toBe(false);
    expect((await httpCheck('a', url, { expectStatus: [200, 204] }).check()).healthy).toBe(true);
  });

  it('is unhealthy when nothing answers within timeoutMs, and aborts the request', async () => {
    let requests = 0;
    const { url, server } = await statusServer(() => (requests++, 'hang'));
    servers.push(server);
    const started = Date.now();
    const outcome = await httpCheck('slow', url, { timeoutMs: 100 }).check();
    expect(outcome).toEqual({ healthy: false, message: 'no answer within 100 ms' });
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(requests).toBe(1);
  });

  it('is unhealthy with the reason when the connection is refused', async () => {
    const { url, server } = await statusServer(() => 200);
    await new Promise((resolve) => server.close(resolve));
    const outcome = await httpCheck('gone', url).check();
    expect(outcome.healthy).toBe(false);
    expect(outcome.message).toMatch(/ECONNREFUSED/);
  });

  it('is optional by default', () => {
    expect(httpCheck('a', 'http://127.0.0.1:1/').critical).toBe(false);
  });
});

describe('envCheck', () => {
  it('names the missing or empty variables, never a value, and is critical by default', async () => {
    const env = { A: 'secret-a', B: '', D: 'secret-d' };
    const check = envCheck('config', ['A', 'B', 'C', 'D'], { env });
    expect(check).toMatchObject({ name: 'config', critical: true });
    const outcome = await check.check();
    expect(outcome).toEqual({ healthy: false, message: 'missing B, C' });
    expect(JSON.stringify(outcome)).not.toMatch(/secret/);
  });

  it('is healthy once every variable is set', async () => {
    const env: NodeJS.ProcessEnv = {};
    const check = envCheck('config', ['DATABASE_URL'], { env, critical: false });
    expect((await check.check()).healthy).toBe(false);
    env['DATABASE_URL'] = 'postgres://db';
    expect(await check.check()).toEqual({ healthy: true, message: '1 set' });
    expect(check.critical).toBe(false);
  });
});

describe('memoryCheck', () => {
  it('fails above maxHeapRatio and passes below', async () => {
    const tight = await memoryCheck({ maxHeapRatio: 1e-9 }).check();
    expect(tight.healthy).toBe(false);
    expect(tight.message).toMatch(/^heap \d+ MiB of \d+ MiB, \d+% \(max 0%\)$/);
    expect((await memoryCheck({ maxHeapRatio: 1 }).check()).healthy).toBe(true);
    expect(memoryCheck()).toMatchObject({ name: 'memory', critical: false });
  });

  it('refuses a ratio outside (0, 1]', () => {
    for (const maxHeapRatio of [0, -0.5, 1.5, Number.NaN]) {
      let err: unknown;
      try {
        memoryCheck({ maxHeapRatio });
      } catch (e) {
        err = e;
      }
      expect(isValidationError(err)).toBe(true);
    }
  });
});

describe('eventLoopCheck', () => {
  it('measures from its first run and fails when the loop was blocked past maxLagMs', async () => {
    const check = eventLoopCheck({ maxLagMs: 20 });
    try {
      expect(await check.check()).toEqual({ healthy: true, message: 'measuring' });
      const until = Date.now() + 80;
      await new Promise((resolve) => setTimeout(resolve, 30));
      while (Date.now() < until); // a blocked event loop
      await new Promise((resolve) => setTimeout(resolve, 30));
      const outcome = await check.check();
      expect(outcome.healthy).toBe(false);
      expect(outcome.message).toMatch(/^p99 lag \d+\.\d ms \(max 20 ms\)$/);
    } finally {
      check.stop();
    }
  });

  it('sampling at its default (half of maxLagMs) still sees a block past maxLagMs, and a quiet loop passes', async () => {
    const check = eventLoopCheck();
    const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
    try {
      await check.check();
      await sleep(250);
      expect((await check.check()).healthy).toBe(true);
      const until = Date.now() + 400;
      while (Date.now() < until); // blocked past 1.5 × the default 200 ms
      await sleep(250);
      const outcome = await check.check();
      expect(outcome.healthy).toBe(false);
      expect(outcome.message).toMatch(/\(max 200 ms\)$/);
    } finally {
      check.stop();
    }
  });
});
