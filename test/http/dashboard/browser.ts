import { existsSync, mkdirSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll } from 'vitest';

/** Debian's chromium, as `.ci/run` installs it. */
export const CHROMIUM = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';

/** Where screenshots go (git-ignored). */
export const ARTIFACTS = 'test-artifacts';

/**
 * Launches headless chromium with nothing that reaches the network on its own.
 * @throws when chromium is missing: the browser tests fail then, they are never skipped
 */
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

/**
 * One headless chromium for the suite it is called in (launched before its tests, closed after).
 * @returns what opens a page in it
 */
export function useBrowser(): { openPage: () => Promise<{ page: Page; errors: string[] }> } {
  let browser: Browser | undefined;
  beforeAll(async () => {
    browser = await launch();
  });
  afterAll(async () => {
    await browser?.close();
  });
  return {
    openPage: () => {
      if (!browser) throw new Error('the browser did not launch');
      return openPage(browser);
    },
  };
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
