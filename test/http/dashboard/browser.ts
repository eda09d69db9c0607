import { existsSync, mkdirSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';

/** Debian's chromium, as `.ci/run` installs it. */
export const CHROMIUM = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';

/** Where screenshots go (git-ignored). */
export const ARTIFACTS = 'test-artifacts';

/**
 * Whether the browser tests run: when chromium is there to drive, and always under
 * `BULWARK_REQUIRE_BROWSER=1` (`.ci/run` sets it), where a missing chromium fails them instead of
 * skipping them. Elsewhere they are skipped, and say why.
 */
export const HAS_CHROMIUM = existsSync(CHROMIUM) || process.env.BULWARK_REQUIRE_BROWSER === '1';

/** Why the browser tests were skipped. */
export const NO_CHROMIUM =
  `chromium was not found at ${CHROMIUM}: the dashboard's browser tests are SKIPPED. Install it with ` +
  '`apt-get install -y chromium` (`bash .ci/run` does) or point CHROMIUM_BIN at a binary';

/** Launches headless chromium with nothing that reaches the network on its own. */
export function launch(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `chromium was not found at ${CHROMIUM}: install it with \`apt-get install -y chromium\` ` +
        '(`bash .ci/run` does) or point CHROMIUM_BIN at a binary',
    );
  }
  mkdirSync(ARTIFACTS, { recursive: true });
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** A page that records console errors and uncaught exceptions. */
export async function openPage(browser: Browser): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(e.message));
  return { page, errors };
}
