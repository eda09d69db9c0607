import { afterEach, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { createRuntime } from '../../src/runtime/create-runtime.js';
import type { Runtime } from '../../src/runtime/runtime.js';
import { memoryTransport } from '../../src/transport/memory/memory-transport.js';
import { testEvents, testLogger } from '../support/events.js';
import { ARTIFACTS, useBrowser } from '../http/dashboard/browser.js';
import { api } from './api.js';

describe('the dashboard endpoints panel in headless chromium', () => {
  const { openPage } = useBrowser();
  let rt: Runtime<typeof testEvents.schemas> | undefined;
  let page: Page | undefined;

  afterEach(async () => {
    await page?.close();
    await rt?.shutdown();
  });

  it('lists each endpoint with its request and error rates, latency and last error', async () => {
    rt = await createRuntime({
      service: 'orders',
      events: testEvents,
      transport: memoryTransport(),
      logger: testLogger,
      handleSignals: false,
    });
    const ep = rt.handle(api, 'orders.get', (req) => {
      if (req.id === 'x') throw new Error('no such order');
      return { id: req.id, status: 'paid' };
    });
    await ep.ready;
    const server = await rt.listen({ adminToken: 'test-admin-token-5e1a' });
    const opened = await openPage();
    page = opened.page;
    await page.goto(`${server.url}/dashboard`);
    const row = page.locator('#endpoints tr[data-endpoint="orders.get"]');
    await row.waitFor();
    const traffic = setInterval(() => {
      void rt?.request(api, 'orders.get', { id: '1' }).catch(() => undefined);
      void rt?.request(api, 'orders.get', { id: 'x' }, { breaker: false }).catch(() => undefined);
    }, 20);
    try {
      const cell = (n: number) => row.locator('td').nth(n).textContent();
      await expect.poll(async () => Number(await cell(2)), { timeout: 10_000 }).toBeGreaterThan(0);
      expect(Number(await cell(3))).toBeGreaterThan(0);
      expect(await cell(4)).toMatch(/^\d+\.\d\d ms$/);
      expect(await cell(1)).toBe('serving');
      expect(await cell(8)).toBe('no such order');
      // Endpoints have their own table, not a row among the supervised actors.
      expect(await page.locator('#actors tr[data-id="endpoint:orders.get"]').count()).toBe(0);
      await page.screenshot({ path: `${ARTIFACTS}/dashboard-endpoints.png`, fullPage: true });
    } finally {
      clearInterval(traffic);
    }
    expect(opened.errors).toEqual([]);
  });
});
