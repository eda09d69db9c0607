import { afterEach, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { createRuntime } from '../../../src/runtime/create-runtime.js';
import { memoryTransport } from '../../../src/transport/memory/memory-transport.js';
import { testEvents, testLogger } from '../../support/events.js';
import type { TestRuntime } from '../../support/runtime.js';
import { deferred } from '../../support/wait.js';
import { ARTIFACTS, useBrowser } from './browser.js';

const TOKEN = 'queues-admin-token-3e1';

describe('dashboard queues in headless chromium', () => {
  const { openPage } = useBrowser();
  let rt: TestRuntime;
  let page: Page;
  let errors: string[];
  let url: string;
  const [step, done] = [deferred(), deferred()];

  afterEach(async () => {
    step.resolve();
    done.resolve();
    await page?.close();
    await rt?.shutdown();
  });

  it('shows a paused queue, a scheduler row and a progress bar that follows an active job; resumes by a click', async () => {
    rt = await createRuntime({
      service: 'accounts',
      events: testEvents,
      transport: memoryTransport(),
      logger: testLogger,
      handleSignals: false,
    });
    const server = await rt.listen({ adminToken: TOKEN });
    url = `${server.url}/dashboard`;
    ({ page, errors } = await openPage());
    const emails = rt.queue('emails');
    await emails.repeat('digest', null, { cron: '0 3 * * MON', tz: 'Europe/Berlin' });
    await emails.pause();
    const reports = rt.queue('reports');
    reports.process(async (job) => {
      await job.progress(40);
      await step.promise;
      await job.progress(75);
      await done.promise;
    });
    const { id } = await reports.add('render', null);

    await page.goto(url);
    const queue = page.locator('#queues tr[data-queue="emails"][data-paused="true"]');
    await queue.waitFor();
    expect(await queue.locator('.pill').textContent()).toBe('paused');
    const digest = page.locator('#schedulers tr[data-scheduler="emails/digest"]');
    await digest.waitFor();
    const cells = await digest.locator('td').allTextContents();
    expect(cells.slice(0, 4)).toEqual(['emails', 'digest', '0 3 * * MON', 'Europe/Berlin']);
    expect(cells[4]).toMatch(/\(in \d+/);
    expect(cells[5]).toBe('—');
    const bar = page.locator(`#job-progress tr[data-job="reports/${id}"] progress`);
    await bar.waitFor();
    expect(await bar.getAttribute('value')).toBe('40');
    await page.screenshot({ path: `${ARTIFACTS}/dashboard-queues.png`, fullPage: true });

    step.resolve();
    await page.locator(`#job-progress tr[data-job="reports/${id}"] progress[value="75"]`).waitFor();
    done.resolve();
    await page.locator('#job-progress .empty').waitFor();

    await page.click('#queues tr[data-queue="emails"] button[data-action="queue"][data-op="resume"]');
    await page.locator('#token-dialog[open]').waitFor();
    await page.fill('#token-input', TOKEN);
    await page.click('#token-ok');
    await page.locator('#queues tr[data-queue="emails"][data-paused="false"]').waitFor();
    expect((await emails.counts()).paused).toBe(false);
    expect(await page.locator('#notice').textContent()).toContain('"paused":false');
    expect(errors).toEqual([]);
  });
});
