import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { cacheWarmer } from '../../support/machines.js';
import { createRuntime } from '../../../src/runtime/create-runtime.js';
import type { Runtime } from '../../../src/runtime/runtime.js';
import { memoryTransport } from '../../../src/transport/memory/memory-transport.js';
import { testEvents, testLogger, user } from '../../support/events.js';
import { until } from '../../support/wait.js';
import { ARTIFACTS, launch, openPage } from './browser.js';
import { tour } from './tour.js';

const TOKEN = 'test-admin-token-9f2c';

type TestRuntime = Runtime<typeof testEvents.schemas>;

describe('dashboard in headless chromium', () => {
  let browser: Browser;
  let rt: TestRuntime;
  let page: Page;
  let errors: string[];
  let url: string;

  beforeAll(async () => {
    browser = await launch();
  });
  afterAll(async () => {
    await browser?.close();
  });
  afterEach(async () => {
    await page?.close();
    await rt?.shutdown();
  });

  async function start(): Promise<void> {
    rt = await createRuntime({
      service: 'accounts',
      events: testEvents,
      transport: memoryTransport(),
      logger: testLogger,
      handleSignals: false,
    });
    const server = await rt.listen({ adminToken: TOKEN });
    url = `${server.url}/dashboard`;
    ({ page, errors } = await openPage(browser));
  }

  it('loads without console errors; a tripped breaker turns red within a second; its statechart follows', async () => {
    await start();
    const payments = rt.breaker('payments', { failureThreshold: 2, resetTimeoutMs: 60_000 });
    rt.health.registerService({ id: 'payments-api', name: 'Payments API', circuitBreaker: payments });
    rt.queue('emails');
    const sub = rt.subscribe('user.created', () => undefined, { group: 'mailer' });
    await sub.ready;
    await page.goto(url);
    await page.locator('[data-breaker="payments"][data-state="CLOSED"] .dot.CLOSED').waitFor();
    await page.locator('tr[data-actor="subscriber:mailer/user.created"]').waitFor();
    await page.click('tr[data-breaker="payments"] td');
    await page.locator('#chart g.node.active[data-state="circuitBreaker.CLOSED"]').waitFor();

    const fail = () => Promise.reject(new Error('payments API down'));
    const tripped = Date.now();
    for (let i = 0; i < 2; i++) await payments.execute(fail).catch(() => undefined);
    expect(payments.stats().state).toBe('OPEN');
    await page.locator('[data-breaker="payments"] .dot.OPEN').waitFor({ timeout: 1_000 });
    expect(Date.now() - tripped).toBeLessThan(1_000);
    await page.locator('#chart g.node.active[data-state="circuitBreaker.OPEN"]').waitFor({ timeout: 1_000 });
    const colour = await page
      .locator('[data-breaker="payments"] .dot')
      .evaluate((el) => getComputedStyle(el).backgroundColor);
    expect(colour).toBe('rgb(229, 62, 62)');
    await page.screenshot({ path: `${ARTIFACTS}/dashboard-breaker-open.png`, fullPage: true });
    expect(errors).toEqual([]);
  });

  it('shows everything at once: the README screenshot', async () => {
    await start();
    await tour(rt);
    await page.goto(url);
    await page.locator('#dead-letters tr[data-dead-letter]').nth(2).waitFor();
    await page.locator('[data-breaker="geocoder"] .dot.HALF_OPEN').waitFor();
    await page.locator('tr[data-actor="subscriber:rota/availability.created"]').waitFor();
    await page.click('tr[data-breaker="payments"] td');
    await page.locator('#chart g.node.active[data-state="circuitBreaker.OPEN"]').waitFor();
    expect(await page.locator('.card').count()).toBe(7);
    await page.screenshot({ path: `${ARTIFACTS}/dashboard.png`, fullPage: true });
    expect(errors).toEqual([]);
  });

  it('lists spawned machines with their status, restarts and last error, pushed as they fail', async () => {
    await start();
    const warmer = cacheWarmer('cache unreachable');
    const fragile = rt.spawn(warmer, { id: 'cache-warmer', restart: false });
    rt.spawn(warmer, { id: 'steady-warmer' }).send({ type: 'warmed' });
    await page.goto(url);
    await page.locator('#actors tr[data-id="steady-warmer"][data-status="running"]').waitFor();
    expect(await page.locator('#actors tr[data-id="steady-warmer"] td').nth(3).textContent()).toBe('warm');
    // Subscribers, queues and breakers keep their own tables.
    rt.queue('emails');
    expect(await page.locator('#actors tr').count()).toBe(2);
    fragile.send({ type: 'crash' });
    const failed = page.locator('#actors tr[data-id="cache-warmer"][data-status="failed"]');
    await failed.waitFor({ timeout: 1_000 });
    expect(await failed.locator('td').nth(5).textContent()).toBe('cache unreachable');
    expect(await failed.locator('.pill').getAttribute('class')).toContain('UNHEALTHY');
    expect(errors).toEqual([]);
  });

  it('the status filter hides healthy services', async () => {
    await start();
    const search = rt.breaker('search');
    const payments = rt.breaker('payments');
    rt.health.registerService({ id: 'search-api', name: 'Search API', circuitBreaker: search });
    rt.health.registerService({ id: 'payments-api', name: 'Payments API', circuitBreaker: payments });
    payments.open();
    await page.goto(url);
    const healthy = page.locator('.card[data-id="search-api"]');
    const degraded = page.locator('.card[data-id="payments-api"][data-status="DEGRADED"]');
    await healthy.waitFor();
    await degraded.waitFor();
    await page.selectOption('#filter', 'attention');
    await expect.poll(() => healthy.isHidden()).toBe(true);
    expect(await degraded.isVisible()).toBe(true);
    expect(await page.locator('.card[data-kind="check"][data-status="HEALTHY"]').first().isHidden()).toBe(
      true,
    );
    await page.screenshot({ path: `${ARTIFACTS}/dashboard-filtered.png`, fullPage: true });
    await page.selectOption('#filter', 'all');
    await expect.poll(() => healthy.isVisible()).toBe(true);
    expect(errors).toEqual([]);
  });

  /** A subscriber that fails until `fixed`, and one dead letter on the page. */
  async function deadLetterOnPage(): Promise<{ handled: string[]; fix: () => void }> {
    let fixed = false;
    const handled: string[] = [];
    const sub = rt.subscribe(
      'user.created',
      (u) => {
        if (!fixed) throw new Error('template missing');
        handled.push(u.username);
      },
      { group: 'mailer', maxAttempts: 1 },
    );
    await sub.ready;
    await rt.publish('user.created', user('1', 'mallory'));
    await until(() => sub.stats().deadLettered === 1, 'a dead letter');
    await page.goto(url);
    await page.locator('#dead-letters tr[data-dead-letter] button[data-action="redrive"]').waitFor();
    expect(await page.locator('#dead-letters').textContent()).toContain('template missing');
    await page.click('#dead-letters details summary');
    expect(await page.locator('#dead-letters details pre').textContent()).toContain('"username": "mallory"');
    return { handled, fix: () => (fixed = true) };
  }

  it('a dead letter is redriven by a click with the admin token, and handled', async () => {
    await start();
    const { handled, fix } = await deadLetterOnPage();
    fix();
    await page.click('#dead-letters button[data-action="redrive"]');
    await page.locator('#token-dialog[open]').waitFor();
    await page.fill('#token-input', TOKEN);
    await page.click('#token-ok');
    await until(() => handled.includes('mallory'), 'the redriven event handled');
    await page.locator('#notice.info').waitFor();
    await page.locator('#dead-letters .empty').waitFor();
    expect(await rt.deadLetters.count()).toBe(0);
    expect(errors).toEqual([]);
  });

  it('without the right token the redrive is refused and the dead letter stays', async () => {
    await start();
    const { handled, fix } = await deadLetterOnPage();
    fix();
    await page.click('#dead-letters button[data-action="redrive"]');
    await page.click('#token-cancel');
    await expect.poll(() => page.locator('#notice').textContent()).toContain('Cancelled');
    await page.click('#dead-letters button[data-action="redrive"]');
    await page.fill('#token-input', 'not-the-token');
    await page.click('#token-ok');
    await expect.poll(() => page.locator('#notice').textContent()).toContain('Refused: unauthorized');
    expect(await rt.deadLetters.count()).toBe(1);
    expect(handled).toEqual([]);
    const res = await fetch(`${url}/api/dead-letters/redrive`, { method: 'POST', body: '{"all":true}' });
    expect(res.status).toBe(401);
    expect(await rt.deadLetters.count()).toBe(1);
    expect(await page.content()).not.toContain(TOKEN);
  });
});
