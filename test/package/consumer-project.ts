import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

// An application that depends on bulwark the way a user's does: its own package.json, the packed
// tarball, its own zod and xstate, a strict service file type-checked by the TypeScript bulwark builds
// with, then run. Used by consumer.test.ts.

const run = promisify(execFile);

/** The peer versions one consumer app installs. */
export interface PeerVersions {
  readonly zod: string;
  readonly xstate: string;
}

/** How a consumer app resolves modules: Node's own rules, or a bundler's. */
export type Resolution = 'nodenext' | 'bundler';

/** What a command printed, or why it failed (`output` has everything, so a failing test says why). */
export interface Outcome {
  readonly ok: boolean;
  readonly stdout: string;
  readonly output: string;
}

/** Runs a command in `cwd`; never throws for a non-zero exit. */
export async function exec(cmd: string, args: string[], cwd: string, timeoutMs = 120_000): Promise<Outcome> {
  try {
    const { stdout, stderr } = await run(cmd, args, { cwd, timeout: timeoutMs, env: consumerEnv() });
    return { ok: true, stdout, output: stdout + stderr };
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    const stdout = e.stdout ?? '';
    return { ok: false, stdout, output: `${e.message}\n${stdout}${e.stderr ?? ''}` };
  }
}

/** The environment of the app's commands: quiet logs, no npm update notices, no inherited npm_* config. */
function consumerEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.toLowerCase().startsWith('npm_')) env[k] = v;
  return { ...env, LOG_LEVEL: 'silent', NO_UPDATE_NOTIFIER: '1', npm_config_update_notifier: 'false' };
}

/** A service written as the README shows, strict, with checks that fail when inference breaks. */
export const SERVICE_TS = `import { z } from 'zod';
import { assign, setup } from 'xstate';
import { createRuntime, defineEvents, isValidationError, memoryTransport, type EventMeta } from 'bulwark';

const events = defineEvents({
  'user.created': z.object({ id: z.string(), username: z.string(), role: z.enum(['user', 'admin']).default('user') }),
  'order.placed': z.object({ orderId: z.string(), total: z.number() }),
});

const counter = setup({
  types: { context: {} as { count: number }, events: {} as { type: 'inc' } },
}).createMachine({
  id: 'counter',
  context: { count: 0 },
  on: { inc: { actions: assign({ count: ({ context }) => context.count + 1 }) } },
});

// Throws on \`boom\`: the supervisor must see which actor failed and restart it.
const fragile = setup({
  types: { events: {} as { type: 'boom' } },
  actions: {
    explode: () => {
      throw new Error('boom');
    },
  },
}).createMachine({ id: 'fragile', on: { boom: { actions: 'explode' } } });

async function until(done: () => boolean): Promise<boolean> {
  for (const deadline = Date.now() + 5_000; Date.now() < deadline; ) {
    if (done()) return true;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return done();
}

export async function main(): Promise<{
  received: string[];
  roles: string[];
  count: number;
  refused: boolean;
  restarted: boolean;
}> {
  const rt = await createRuntime({ service: 'consumer', events, transport: memoryTransport(), handleSignals: false });
  const received: string[] = [];
  const roles: string[] = [];
  let done!: () => void;
  const all = new Promise<void>((resolve) => (done = resolve));
  const sub = rt.subscribe('user.created', (user, meta: EventMeta) => {
    const name: string = user.username;
    const role: 'user' | 'admin' = user.role;
    received.push(\`\${meta.type}:\${name}\`);
    roles.push(role);
    if (received.length === 2) done();
  });
  await sub.ready;
  await rt.publish('user.created', { id: '1', username: 'ada' });
  await rt.publish('user.created', { id: '2', username: 'grace', role: 'admin' });
  // @ts-expect-error a payload of the wrong shape does not compile
  const refused = await rt.publish('user.created', { id: 3 }).then(() => false, (e: unknown) => isValidationError(e));
  await all;

  const actor = rt.spawn(counter, { id: 'counter' });
  actor.send({ type: 'inc' });
  actor.send({ type: 'inc' });
  const count: number = actor.getSnapshot().context.count;

  const failing = rt.spawn(fragile, { id: 'fragile', restart: { maxRestarts: 3, withinMs: 60_000 } });
  failing.send({ type: 'boom' });
  const restarted = await until(() => failing.restarts === 1 && failing.status() === 'running');
  await rt.shutdown();
  return { received, roles, count, refused, restarted };
}

console.log(JSON.stringify(await main()));
`;

/** A CommonJS file of the app: bulwark through require(), per Node's require(esm). */
export const REQUIRE_CJS = `const bulwark = require('bulwark');
const nats = require('bulwark/nats');
const events = bulwark.defineEvents({});
console.log(JSON.stringify({
  createRuntime: typeof bulwark.createRuntime,
  memoryTransport: typeof bulwark.memoryTransport,
  registry: Array.isArray(events.types),
  replayEvents: typeof nats.replayEvents,
}));
`;

const COMPILER_OPTIONS = {
  target: 'ES2022',
  lib: ['ES2023'],
  types: ['node'],
  strict: true,
  noUncheckedIndexedAccess: true,
  noImplicitReturns: true,
  verbatimModuleSyntax: true,
  isolatedModules: true,
  // As `tsc --init` writes it; `typecheck(…, { declarations: true })` checks the .d.ts files too.
  skipLibCheck: true,
};

const TSCONFIGS: Record<Resolution, object> = {
  nodenext: { module: 'NodeNext', moduleResolution: 'NodeNext', outDir: 'out', rootDir: 'src' },
  bundler: { module: 'ESNext', moduleResolution: 'Bundler', noEmit: true },
};

/**
 * Writes a consumer app into `dir`: package.json depending on the tarball and the given peers,
 * the service file, a CommonJS probe, and one tsconfig per resolution.
 */
export function writeConsumer(dir: string, tarball: string, peers: PeerVersions, typesNode: string): void {
  mkdirSync(join(dir, 'src'), { recursive: true });
  const pkg = {
    name: 'bulwark-consumer',
    private: true,
    type: 'module',
    dependencies: { bulwark: `file:${tarball}`, zod: peers.zod, xstate: peers.xstate },
    devDependencies: { '@types/node': typesNode },
  };
  writeFileSync(join(dir, 'package.json'), JSON.stringify(pkg, null, 2));
  writeFileSync(join(dir, 'src', 'service.ts'), SERVICE_TS);
  writeFileSync(join(dir, 'require.cjs'), REQUIRE_CJS);
  for (const [name, options] of Object.entries(TSCONFIGS)) {
    const config = { compilerOptions: { ...COMPILER_OPTIONS, ...options }, include: ['src'] };
    writeFileSync(join(dir, `tsconfig.${name}.json`), JSON.stringify(config, null, 2));
  }
}

/** `npm install` in the app, from the local cache where it can. */
export function installConsumer(dir: string): Promise<Outcome> {
  return exec(
    'npm',
    ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'],
    dir,
    180_000,
  );
}

/**
 * Type-checks (and for NodeNext, emits) the app with the TypeScript at `tscPath`; with
 * `declarations`, the .d.ts files of bulwark and its dependencies are checked as well.
 */
export function typecheck(
  dir: string,
  tscPath: string,
  resolution: Resolution,
  { declarations = false } = {},
): Promise<Outcome> {
  const args = [tscPath, '-p', `tsconfig.${resolution}.json`, '--skipLibCheck', String(!declarations)];
  return exec(process.execPath, args, dir);
}
