import { afterEach, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { cacheWarmer } from '../../support/machines.js';
import { createRuntime } from '../../../src/runtime/create-runtime.js';
import type { Runtime } from '../../../src/runtime/runtime.js';
import { memoryTransport } from '../../../src/transport/memory/memory-transport.js';
import { testEvents, testLogger, user } from '../../support/events.js';
import { until } from '../../support/wait.js';
import { ARTIFACTS, useBrowser } from './browser.js';
import { tour } from './tour.js';

const TOKEN = 'test-admin-token-9f2c';

interface Box {
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}

/** Whether an `M x,y L x,y …` polyline has a segment through a box's inside. */
function pathCrosses(d: string, b: Box): boolean {
  const points = [...d.matchAll(/[ML](-?[\d.]+),(-?[\d.]+)/g)].map((m) => ({
    x: Number(m[1]),
    y: Number(m[2]),
  }));
  return points.slice(1).some((q, k) => {
    const p = points[k]!;
    const [x1, x2] = [Math.min(p.x, q.x), Math.max(p.x, q.x)];
    const [y1, y2] = [Math.min(p.y, q.y), Math.max(p.y, q.y)];
    return x1 < b.x + b.width && b.x < x2 + 0.5 && y1 < b.y + b.height && b.y < y2 + 0.5;
  });
}

type TestRuntime = Runtime<typeof testEvents.schemas>;

describe('dashboard in headless chromium', () => {
  const { openPage } = useBrowser();
  let rt: TestRuntime;
  let page: Page;
  let errors: string[];
  let url: string;

  afterEach(async () => {
    await page?.close();
    await rt?.shutdown();
  });

  async function start(readToken?: string): Promise<void> {
    rt = await createRuntime({
      service: 'accounts',
      events: testEvents,
      transport: memoryTransport(),
      logger: testLogger,
      handleSignals: false,
    });
    const server = await rt.listen({ adminToken: TOKEN, ...(readToken && { readToken }) });
    url = `${server.url}/dashboard`;
    ({ page, errors } = await openPage());
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
    // Every snapshot redraws the row: read the colour of the dot drawn last.
    const colour = () =>
      page.locator('[data-breaker="payments"] .dot').evaluate((el) => getComputedStyle(el).backgroundColor);
    await expect.poll(colour).toBe('rgb(229, 62, 62)');
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
    await page.locator('#queues tr[data-queue="exports"][data-paused="true"]').waitFor();
    await page.locator('#schedulers tr[data-scheduler="emails/weekly-digest"]').waitFor();
    await page.locator('#job-progress progress').nth(1).waitFor();
    await page.click('tr[data-breaker="payments"] td');
    await page.locator('#chart g.node.active[data-state="circuitBreaker.OPEN"]').waitFor();
    expect(await page.locator('.card').count()).toBe(7);
    await page.screenshot({ path: `${ARTIFACTS}/dashboard.png`, fullPage: true });
    expect(errors).toEqual([]);
  });

  it('draws statecharts whose labels overlap no other label, no state and no other edge', async () => {
    await start();
    rt.breaker('payments');
    await rt.subscribe('user.created', () => undefined, { group: 'mailer' }).ready;
    await page.goto(url);
    const measured: string[] = [];
    for (const row of [
      'tr[data-breaker="payments"] td',
      'tr[data-actor="subscriber:mailer/user.created"] td',
    ]) {
      await page.click(row);
      await page.locator('#chart svg .edge text').first().waitFor();
      // Boxes as the browser renders them: each label's text, its backing box, every state's box.
      const chart = await page.locator('#chart svg').evaluate((svg) => {
        const box = (el: Element | null) => {
          if (!el) throw new Error('an edge without its label');
          const b = (el as SVGGraphicsElement).getBBox();
          return { x: b.x, y: b.y, width: b.width, height: b.height };
        };
        return {
          labels: Array.from(svg.querySelectorAll('.edge')).map((g) => ({
            text: g.querySelector('text')?.textContent ?? '',
            box: box(g.querySelector('text')),
            reserved: box(g.querySelector('rect.label-box')),
            path: g.querySelector('path')?.getAttribute('d') ?? '',
          })),
          nodes: Array.from(svg.querySelectorAll('.node rect')).map(box),
        };
      });
      expect(chart.labels.length).toBeGreaterThan(5);
      const overlaps = (a: Box, b: Box) =>
        a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
      const inside = (a: Box, b: Box) =>
        a.x >= b.x - 0.5 &&
        a.y >= b.y - 0.5 &&
        a.x + a.width <= b.x + b.width + 0.5 &&
        a.y + a.height <= b.y + b.height + 0.5;
      const bad: string[] = [];
      chart.labels.forEach((l, i) => {
        if (!inside(l.box, l.reserved)) bad.push(`"${l.text}" spills out of the room kept for it`);
        chart.labels.forEach((m, j) => {
          if (j > i && overlaps(l.box, m.box)) bad.push(`"${l.text}" over "${m.text}"`);
          if (j !== i && pathCrosses(m.path, l.box)) bad.push(`edge "${m.text}" through "${l.text}"`);
        });
        for (const n of chart.nodes) if (overlaps(l.box, n)) bad.push(`"${l.text}" over a state`);
      });
      expect(bad).toEqual([]);
      measured.push(...chart.labels.map((l) => l.text));
    }
    expect(measured).toContain('window.tripped [thresholdReached] / peer.opened / health.down');
    await page.screenshot({ path: `${ARTIFACTS}/dashboard-statechart.png`, fullPage: true });
    expect(errors).toEqual([]);
  });

  it('with a read token, asks for it before showing any data; the dead-letter count always matches its rows', async () => {
    await start('read-token-77');
    const sub = rt.subscribe(
      'user.created',
      () => {
        throw new Error('template missing');
      },
      { group: 'mailer', maxAttempts: 1 },
    );
    await sub.ready;
    for (const id of ['1', '2', '3']) await rt.publish('user.created', user(id, `user${id}@example.com`));
    await until(() => sub.stats().deadLettered === 3, 'three dead letters');
    // Every time the heading changes, what it says and how many rows the table has at that moment.
    await page.addInitScript(() => {
      const seen: [string, number][] = [];
      (window as unknown as { dlSeen: typeof seen }).dlSeen = seen;
      document.addEventListener('DOMContentLoaded', () => {
        const count = document.getElementById('dl-count')!;
        const rows = () => document.querySelectorAll('#dead-letters tr[data-dead-letter]').length;
        new MutationObserver(() => seen.push([count.textContent ?? '', rows()])).observe(count, {
          childList: true,
          characterData: true,
          subtree: true,
        });
      });
    });
    await page.goto(url);
    await page.locator('#token-dialog[open]').waitFor();
    expect(await page.locator('#token-prompt').textContent()).toMatch(/read token/);
    expect(await page.content()).not.toContain('@example.com');
    await page.fill('#token-input', 'read-token-77');
    await page.click('#token-ok');
    await page.locator('#dead-letters tr[data-dead-letter]').nth(2).waitFor();
    expect(await page.locator('#dl-count').textContent()).toBe('3');
    expect(await page.locator('#dead-letters').textContent()).toContain('user1@example.com');
    const seen = await page.evaluate(() => (window as unknown as { dlSeen: [string, number][] }).dlSeen);
    // A bare count is only ever shown over as many rows; before they arrive it says it is loading.
    for (const [text, rows] of seen) if (/^\d+$/.test(text)) expect(Number(text), text).toBe(rows);
    expect(seen.some(([text]) => text.includes('loading'))).toBe(true);
    expect(errors.filter((e) => !e.includes('401'))).toEqual([]);
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
