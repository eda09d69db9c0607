import { readFile } from 'node:fs/promises';
import { Script } from 'node:vm';
import { beforeAll, describe, expect, it } from 'vitest';
import { BUNDLE_FILE, bundleDashboardClient, bundleModule } from '../../../scripts/build-dashboard-client.js';
import { DASHBOARD_CLIENT } from '../../../src/http/dashboard/client-bundle.generated.js';

describe('the dashboard client bundle', () => {
  let bundle: string;

  beforeAll(async () => {
    bundle = await bundleDashboardClient();
  });

  it('is committed as built from src/http/dashboard/client', async () => {
    const committed = await readFile(BUNDLE_FILE, 'utf8');
    expect(committed, 'the bundle is stale: run `npm run build:dashboard`').toBe(bundleModule(bundle));
    expect(DASHBOARD_CLIENT).toBe(bundle);
  });

  it('is one classic script: no imports or requires, and it parses', () => {
    expect(bundle).not.toMatch(/\bimport\b/);
    expect(bundle).not.toMatch(/\brequire\b/);
    expect(() => new Script(bundle, { filename: 'dashboard-client.js' })).not.toThrow();
  });

  it('can sit inside the page’s <script> element', () => {
    expect(bundle).not.toMatch(/<\/script|<!--/i);
  });
});
