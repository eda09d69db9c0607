import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

/** The repository root. */
export const root = join(dirname(fileURLToPath(import.meta.url)), '../..');

/** The TypeScript compiler bulwark builds with; consumer apps are checked with it too. */
export const tscPath = join(root, 'node_modules', 'typescript', 'bin', 'tsc');

const PACK_INPUTS = ['package.json', 'tsconfig.json', 'tsconfig.build.json', 'src'];
/** How long a test file waits for another one that is packing the same sources. */
const LOCK_WAIT_MS = 180_000;

/**
 * Packs bulwark as `npm pack` does (a build with tsconfig.build.json, then the `files` of
 * package.json), in a staging folder of its own: the checkout's `dist/` is neither read nor
 * rewritten, so test files and people building at the same time do not race. The tarball is kept
 * in the temp folder under a hash of what goes into it, so the test files of one run pack once.
 * @returns the path of the tarball
 * @throws when the build or the pack fails
 */
export async function packTarball(): Promise<string> {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { files: string[] };
  const shipped = pkg.files.filter((f) => f !== 'dist');
  const key = contentHash([...PACK_INPUTS, ...shipped]);
  const tarball = join(tmpdir(), `bulwark-pack-${key}.tgz`);
  const lock = `${tarball}.lock`;
  for (const until = Date.now() + LOCK_WAIT_MS; !existsSync(tarball); await sleep(250)) {
    if (takeLock(lock)) {
      try {
        if (!existsSync(tarball)) {
          renameSync(pack(shipped), tarball);
          removeStale(tarball);
        }
      } finally {
        rmSync(lock, { recursive: true, force: true });
      }
    } else if (Date.now() > until) {
      throw new Error(`gave up waiting for ${lock}: remove it if no test run is packing`);
    }
  }
  return tarball;
}

/** Tarballs of older sources, left by earlier runs: removed once an hour old. */
function removeStale(current: string): void {
  const hourAgo = Date.now() - 3_600_000;
  for (const name of readdirSync(tmpdir())) {
    const path = join(tmpdir(), name);
    if (!/^bulwark-pack-[0-9a-f]{16}\.tgz$/.test(name) || path === current) continue;
    if (statSync(path).mtimeMs < hourAgo) rmSync(path, { force: true });
  }
}

function takeLock(lock: string): boolean {
  try {
    mkdirSync(lock);
    return true;
  } catch {
    return false;
  }
}

function pack(shipped: string[]): string {
  const stage = mkdtempSync(join(tmpdir(), 'bulwark-stage-'));
  try {
    copyFileSync(join(root, 'package.json'), join(stage, 'package.json'));
    for (const entry of shipped) cpSync(join(root, entry), join(stage, entry), { recursive: true });
    const build = [tscPath, '-p', join(root, 'tsconfig.build.json'), '--outDir', join(stage, 'dist')];
    execFileSync(process.execPath, build, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    const out = execFileSync('npm', ['pack', '--ignore-scripts', '--json'], {
      cwd: stage,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const [{ filename }] = JSON.parse(out) as [{ filename: string }];
    const kept = join(tmpdir(), `bulwark-packed-${process.pid}-${filename}`);
    renameSync(join(stage, filename), kept);
    return kept;
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}

/** A hash of the files (and folders, recursively) at `paths`, names and contents. */
function contentHash(paths: string[]): string {
  const hash = createHash('sha256');
  const visit = (path: string): void => {
    const full = join(root, path);
    if (statSync(full).isDirectory()) {
      for (const name of readdirSync(full).sort()) visit(join(path, name));
    } else {
      hash.update(path).update('\0').update(readFileSync(full)).update('\0');
    }
  };
  for (const path of paths) visit(path);
  return hash.digest('hex').slice(0, 16);
}
