import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

// What a user gets from `npm install bulwark`: the packed tarball, installed into an app of its own.

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const app = mkdtempSync(join(tmpdir(), 'bulwark-app-'));

/** Runs `script` as an ES module of the app; resolves with what it printed as JSON. */
function runInApp(script: string): unknown {
  const file = join(app, `probe-${Math.random().toString(36).slice(2)}.mjs`);
  writeFileSync(file, script);
  return JSON.parse(execFileSync(process.execPath, [file], { cwd: app, encoding: 'utf8', timeout: 30_000 }));
}

/** A probe that imports `specifiers`, then lists the NATS client modules loaded so far. */
const natsLoadedAfter = (specifiers: string[], then = ''): string => `
import { createRequire } from 'node:module';
const require = createRequire(import.meta.url);
const natsModules = () => Object.keys(require.cache).filter((k) => k.includes('@nats-io')).length;
const mods = [];
for (const s of ${JSON.stringify(specifiers)}) mods.push(await import(s));
const afterImport = natsModules();
${then}
console.log(JSON.stringify({ afterImport, exports: Object.keys(mods[0]).length, ...extra }));
`;

describe('the packed package', () => {
  beforeAll(() => {
    // `npm pack` builds dist afresh (prepare) and packs what `files` ships.
    const out = execFileSync('npm', ['pack', '--json', '--pack-destination', app], {
      cwd: root,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const [{ filename }] = JSON.parse(out) as [{ filename: string }];
    const pkg = join(app, 'node_modules', 'bulwark');
    mkdirSync(pkg, { recursive: true });
    execFileSync('tar', ['-xzf', join(app, filename), '-C', pkg, '--strip-components=1']);
    // The app's dependencies are bulwark's: the ones this checkout installed.
    symlinkSync(join(root, 'node_modules'), join(pkg, 'node_modules'), 'dir');
  }, 120_000);
  afterAll(() => rmSync(app, { recursive: true, force: true }));

  it('loads no NATS module when imported, from the root or from bulwark/nats', () => {
    const root = runInApp(natsLoadedAfter(['bulwark'], 'const extra = {};'));
    expect(root).toMatchObject({ afterImport: 0 });
    expect((root as { exports: number }).exports).toBeGreaterThan(50);
    expect(runInApp(natsLoadedAfter(['bulwark/nats'], 'const extra = {};'))).toMatchObject({
      afterImport: 0,
    });
  });

  it('loads the NATS client once a NATS transport starts (and NATS_URL still selects it)', () => {
    const servers = inject('natsUrl');
    const start = `
const { transportFromEnv } = mods[0];
const quiet = { child: () => quiet, trace() {}, debug() {}, info() {}, warn() {}, error() {}, fatal() {} };
const t = transportFromEnv({ NATS_URL: ${JSON.stringify(servers)}, BULWARK_PREFIX: 'pkg${Date.now()}' }, { provision: false, requireStreams: false });
await t.start({ service: 'pkg-test', logger: quiet });
const extra = { kind: t.kind, afterStart: natsModules() };
await t.close();`;
    const seen = runInApp(natsLoadedAfter(['bulwark'], start)) as { afterImport: number; afterStart: number };
    expect(seen).toMatchObject({ afterImport: 0, kind: 'nats' });
    expect(seen.afterStart).toBeGreaterThan(0);
  });
});
