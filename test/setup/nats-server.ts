import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A nats-server process owned by a test run: its own port, its own JetStream store. */
export interface NatsServerHandle {
  readonly url: string;
  readonly port: number;
  readonly storeDir: string;
  /** Stops the process (SIGTERM, then SIGKILL); the store stays so that `start()` resumes it. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again on the same port and store. */
  start(): Promise<void>;
  /** Stops it and removes the store. */
  dispose(): Promise<void>;
  /** SIGSTOP: the process holds its sockets but answers nothing, as a frozen broker does. */
  freeze(): void;
  /** SIGCONT after {@link freeze}. */
  thaw(): void;
}

const CANDIDATES = ['/usr/sbin/nats-server', '/usr/bin/nats-server', '/usr/local/bin/nats-server'];

/** Finds the nats-server binary or throws with a message that says how to install one. */
export function findNatsServer(): string {
  const fromEnv = process.env.NATS_SERVER_BIN;
  if (fromEnv && existsSync(fromEnv)) return fromEnv;
  for (const candidate of CANDIDATES) if (existsSync(candidate)) return candidate;
  try {
    return execFileSync('sh', ['-c', 'command -v nats-server'], { encoding: 'utf8' }).trim();
  } catch {
    throw new Error(
      'nats-server was not found. Install it with `apt-get install -y nats-server` (Debian/Ubuntu) ' +
        'or put the binary on PATH / in NATS_SERVER_BIN. `bash .ci/run` installs it when missing.',
    );
  }
}

/** Asks the kernel for a free loopback port. */
export async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

async function waitForPort(port: number, proc: ChildProcess, deadlineMs: number): Promise<void> {
  const until = Date.now() + deadlineMs;
  while (Date.now() < until) {
    if (proc.exitCode !== null) throw new Error(`nats-server exited with code ${proc.exitCode}`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`nats-server did not open 127.0.0.1:${port} within ${deadlineMs} ms`);
}

/**
 * Starts `nats-server -js` on a free loopback port with a temporary store; with `jsDomain`, its
 * JetStream runs in that domain, and `config` adds lines to its config file (e.g. leafnodes).
 */
export async function startNatsServer(
  opts: { port?: number; jsDomain?: string; config?: string } = {},
): Promise<NatsServerHandle> {
  const bin = findNatsServer();
  const port = opts.port ?? (await freePort());
  const storeDir = mkdtempSync(join(tmpdir(), 'bulwark-nats-'));
  let proc: ChildProcess | undefined;

  let args = ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', storeDir];
  if (opts.jsDomain || opts.config) {
    const conf = join(storeDir, 'server.conf');
    const domain = opts.jsDomain ? `  domain: ${opts.jsDomain}\n` : '';
    const js = `jetstream {\n  store_dir: "${join(storeDir, 'js')}"\n${domain}}\n`;
    writeFileSync(conf, `listen: "127.0.0.1:${port}"\n${js}${opts.config ?? ''}\n`);
    args = ['-c', conf];
  }

  const start = async (): Promise<void> => {
    const child = spawn(bin, args, {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    child.stderr?.resume();
    proc = child;
    await waitForPort(port, child, 10_000);
  };

  const stop = async (signal: NodeJS.Signals = 'SIGTERM'): Promise<void> => {
    const child = proc;
    proc = undefined;
    if (!child || child.exitCode !== null) return;
    child.kill('SIGCONT'); // a frozen process would not act on the signal
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  };

  await start();
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    storeDir,
    stop,
    start,
    freeze: () => void proc?.kill('SIGSTOP'),
    thaw: () => void proc?.kill('SIGCONT'),
    dispose: async () => {
      await stop();
      rmSync(storeDir, { recursive: true, force: true });
    },
  };
}
