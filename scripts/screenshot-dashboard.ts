/**
 * Takes the README's dashboard screenshot (`docs/dashboard.png`): runs a runtime on the embedded
 * transport with something of everything the dashboard shows (the browser tests' tour), opens the
 * page in headless chromium with the read token, opens the payments breaker's statechart, and
 * saves the whole page.
 *
 *   npx tsx scripts/screenshot-dashboard.ts [out.png]     (CHROMIUM_BIN: another chromium)
 */
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { createRuntime } from '../src/runtime/create-runtime.js';
import { memoryTransport } from '../src/transport/memory/memory-transport.js';
import { launch, openPage } from '../test/http/dashboard/browser.js';
import { tour } from '../test/http/dashboard/tour.js';
import { testEvents } from '../test/support/events.js';

const OUT = process.argv[2] ?? fileURLToPath(new URL('../docs/dashboard.png', import.meta.url));
const READ_TOKEN = 'screenshot-read-token';

async function main(): Promise<void> {
  const rt = await createRuntime({
    service: 'accounts',
    events: testEvents,
    transport: memoryTransport(),
    logger: pino({ level: 'silent' }),
    handleSignals: false,
  });
  const browser = await launch();
  try {
    await tour(rt);
    const server = await rt.listen({ readToken: READ_TOKEN, adminToken: 'screenshot-admin-token' });
    const { page, errors } = await openPage(browser);
    await page.setExtraHTTPHeaders({ authorization: `Bearer ${READ_TOKEN}` });
    await page.goto(`${server.url}/dashboard`);
    await page.locator('#dead-letters tr[data-dead-letter]').nth(2).waitFor();
    await page.locator('[data-breaker="geocoder"] .dot.HALF_OPEN').waitFor();
    await page.locator('#job-progress progress').nth(1).waitFor();
    await page.locator('#schedulers tr[data-scheduler="emails/weekly-digest"]').waitFor();
    await page.click('tr[data-breaker="payments"] td');
    await page.locator('#chart g.node.active[data-state="circuitBreaker.OPEN"]').waitFor();
    await page.screenshot({ path: OUT, fullPage: true });
    if (errors.length > 0) throw new Error(`the page reported errors: ${errors.join('; ')}`);
    console.log(`wrote ${OUT}`);
  } finally {
    await browser.close();
    await rt.shutdown();
  }
}

await main();
