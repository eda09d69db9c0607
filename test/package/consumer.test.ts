import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  exec,
  installConsumer,
  typecheck,
  writeConsumer,
  type Outcome,
  type PeerVersions,
} from './consumer-project.js';
import { packTarball, root, tscPath } from './pack.js';

// bulwark installed from its tarball into fresh apps, one on the lowest zod and xstate its peer
// ranges allow and one on the newest: each app type-checks a strict service under NodeNext and
// Bundler resolution, runs it, and loads bulwark through require().

const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  peerDependencies: Record<'zod' | 'xstate', string>;
  devDependencies: Record<string, string>;
};

/** The lowest version a `^x.y.z` range allows; any other form is refused so that this test stays exact. */
function lowest(range: string): string {
  const m = /^\^(\d+\.\d+\.\d+)$/.exec(range);
  if (!m?.[1]) throw new Error(`peer range ${range} is not of the form ^x.y.z`);
  return m[1];
}

/** Whether `version` is within `^x.y.z` (same major, not lower). */
function withinCaret(version: string, range: string): boolean {
  const [major, minor, patch] = version.split('.').map(Number);
  const [lowMajor, lowMinor, lowPatch] = lowest(range).split('.').map(Number);
  if (major !== lowMajor) return false;
  return minor! > lowMinor! || (minor === lowMinor && patch! >= lowPatch!);
}

/** The version of `dependency` installed in the app. */
const versionIn = (dir: string, dependency: string): string =>
  (
    JSON.parse(readFileSync(join(dir, 'node_modules', dependency, 'package.json'), 'utf8')) as {
      version: string;
    }
  ).version;

const peers = pkg.peerDependencies;
const variants: { name: 'lowest' | 'newest'; versions: PeerVersions }[] = [
  { name: 'lowest', versions: { zod: lowest(peers.zod), xstate: lowest(peers.xstate) } },
  // The ranges themselves: npm installs the newest versions they allow.
  { name: 'newest', versions: { zod: peers.zod, xstate: peers.xstate } },
];

const work = mkdtempSync(join(tmpdir(), 'bulwark-consumers-'));

/** Everything one app went through, in order; each step runs whatever the step before it gave. */
interface AppRun {
  readonly dir: string;
  readonly install: Outcome;
  readonly nodenext: Outcome;
  readonly bundler: Outcome;
  readonly ran: Outcome;
  readonly required: Outcome;
  readonly declarations?: Outcome;
}
const runs = new Map<string, AppRun>();

async function runApp(tarball: string, name: string, versions: PeerVersions): Promise<AppRun> {
  const dir = join(work, name);
  writeConsumer(dir, tarball, versions, pkg.devDependencies['@types/node']!);
  const install = await installConsumer(dir);
  const [nodenext, bundler] = await Promise.all([
    typecheck(dir, tscPath, 'nodenext'),
    typecheck(dir, tscPath, 'bundler'),
  ]);
  const ran = await exec(process.execPath, ['out/service.js'], dir, 30_000);
  const required = await exec(process.execPath, ['require.cjs'], dir, 30_000);
  // The .d.ts files too, against the newest peers (see docs/API.md on skipLibCheck and older xstate).
  const declarations =
    name === 'newest' ? await typecheck(dir, tscPath, 'nodenext', { declarations: true }) : undefined;
  return { dir, install, nodenext, bundler, ran, required, ...(declarations && { declarations }) };
}

const expectOk = (o: Outcome | undefined): void => {
  expect(o, 'this step did not run').toBeDefined();
  expect(o!.ok, o!.output).toBe(true);
};

describe('bulwark in a consumer app', () => {
  beforeAll(async () => {
    const tarball = await packTarball();
    const done = await Promise.all(variants.map((v) => runApp(tarball, v.name, v.versions)));
    for (const [i, v] of variants.entries()) runs.set(v.name, done[i]!);
  }, 240_000);
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  describe.each(variants)('with the $name zod and xstate', ({ name, versions }) => {
    const app = (): AppRun => runs.get(name)!;

    it('installs one copy of each peer, within the peer ranges', () => {
      expectOk(app().install);
      for (const peer of ['zod', 'xstate'] as const) {
        const installed = versionIn(app().dir, peer);
        if (name === 'lowest') expect(installed).toBe(versions[peer]);
        expect(withinCaret(installed, peers[peer]), `${peer} ${installed} within ${peers[peer]}`).toBe(true);
        // A nested copy would split the types in two: the app's schemas against bulwark's zod.
        expect(existsSync(join(app().dir, 'node_modules/bulwark/node_modules', peer))).toBe(false);
      }
    });

    it('type-checks the strict service under NodeNext and Bundler resolution, then runs it', () => {
      expectOk(app().nodenext);
      expectOk(app().bundler);
      expectOk(app().ran);
      expect(JSON.parse(app().ran.stdout)).toEqual({
        received: ['user.created:ada', 'user.created:grace'],
        roles: ['user', 'admin'],
        count: 2,
        refused: true,
        restarted: true,
      });
    });

    it('loads through require() from CommonJS (require(esm))', () => {
      expectOk(app().required);
      expect(JSON.parse(app().required.stdout)).toEqual({
        createRuntime: 'function',
        memoryTransport: 'function',
        registry: true,
        replayEvents: 'function',
      });
    });
  });

  it("checks bulwark's declaration files against the newest peers", () => {
    expectOk(runs.get('newest')?.declarations);
  });
});
