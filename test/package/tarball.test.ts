import { execFileSync } from 'node:child_process';
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { packTarball, root } from './pack.js';

// What a user gets from `npm install bulwark`: the packed tarball, installed into an app of its own.

const app = mkdtempSync(join(tmpdir(), 'bulwark-app-'));

/** Every file under `dir`, relative, sorted; symbolic links (the linked node_modules) are not followed. */
function listFiles(dir: string, prefix = ''): string[] {
  return readdirSync(join(dir, prefix), { withFileTypes: true })
    .flatMap((e) => {
      const path = prefix ? `${prefix}/${e.name}` : e.name;
      return e.isDirectory() ? listFiles(dir, path) : [path];
    })
    .sort();
}

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
  beforeAll(async () => {
    // Built afresh and packed with what `files` ships, as `npm pack` does.
    const tarball = await packTarball();
    const pkg = join(app, 'node_modules', 'bulwark');
    mkdirSync(pkg, { recursive: true });
    execFileSync('tar', ['-xzf', tarball, '-C', pkg, '--strip-components=1']);
    // The app's dependencies are bulwark's: the ones this checkout installed.
    symlinkSync(join(root, 'node_modules'), join(pkg, 'node_modules'), 'dir');
  }, 200_000);
  afterAll(() => rmSync(app, { recursive: true, force: true }));

  it('ships dist with its licence and changelog, no source maps, and zod and xstate as peers', () => {
    const pkg = join(app, 'node_modules', 'bulwark');
    const files = listFiles(pkg);
    expect(files).toEqual(expect.arrayContaining(['LICENSE', 'CHANGELOG.md', 'README.md', 'dist/index.js']));
    expect(files.filter((f) => !f.startsWith('dist/') && !f.startsWith('node_modules'))).toEqual([
      'CHANGELOG.md',
      'LICENSE',
      'README.md',
      'package.json',
    ]);
    expect(files.filter((f) => f.endsWith('.map'))).toEqual([]);
    const mapped = files.filter(
      (f) => f.endsWith('.js') && readFileSync(join(pkg, f), 'utf8').includes('sourceMappingURL'),
    );
    expect(mapped).toEqual([]);
    const manifest = JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8')) as Record<
      string,
      Record<string, unknown>
    >;
    expect(Object.keys(manifest.peerDependencies!).sort()).toEqual(['xstate', 'zod']);
    expect(manifest.dependencies).not.toHaveProperty('zod');
    expect(manifest.dependencies).not.toHaveProperty('xstate');
    expect(manifest.exports!['.']).toMatchObject({ import: './dist/index.js', default: './dist/index.js' });
  });

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
