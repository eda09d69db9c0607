import { InvalidArgumentError, type Command } from 'commander';
import { silentLogger } from '../logging.js';
import type { QueueTransport } from '../queue/store.js';
import { transportFromEnv } from '../runtime/create-runtime.js';
import { MissingStreamError } from '../errors.js';

/** Options every broker command takes. */
export interface BrokerOptions {
  readonly prefix: string;
  readonly json?: boolean;
}

/** A failure the CLI reports in one line and exits 1 for (bad input that parsed, an unreachable server). */
export class CliError extends Error {
  override readonly name = 'CliError';
}

/** How long the CLI waits to connect to anything. */
export const CONNECT_TIMEOUT_MS = 2_000;

const COLORS = { red: 31, green: 32, yellow: 33, blue: 34, dim: 2, bold: 1 } as const;

/** Colours `text` for a terminal; plain when stdout is not one or `NO_COLOR` is set. */
export function paint(color: keyof typeof COLORS, text: string): string {
  if (!process.stdout.isTTY || process.env.NO_COLOR) return text;
  return `\u001b[${COLORS[color]}m${text}\u001b[0m`;
}

/** The colour of a status word. */
export function statusColor(status: string): keyof typeof COLORS {
  if (['HEALTHY', 'CLOSED', 'running', 'consuming', 'completed'].includes(status)) return 'green';
  if (['DEGRADED', 'HALF_OPEN', 'UNKNOWN', 'restarting'].includes(status)) return 'yellow';
  return 'red';
}

/** Writes `value` as JSON on stdout. */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** Where the CLI looks for a broker when `NATS_URL` is not set: it reads one, it has none of its own. */
export const DEFAULT_NATS_URL = 'nats://127.0.0.1:4222';

/** The environment a command's transport is chosen from: `NATS_URL` defaulted, `--prefix` as `BULWARK_PREFIX`. */
export function brokerEnv(prefix?: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    NATS_URL: process.env.NATS_URL ?? DEFAULT_NATS_URL,
    ...(prefix !== undefined && { BULWARK_PREFIX: prefix }),
  };
}

/** Adds `--prefix` and `--json` to a broker command. */
export function brokerCommand(cmd: Command): Command {
  return cmd
    .option(
      '--prefix <prefix>',
      'subject prefix of the runtimes (BULWARK_PREFIX)',
      process.env.BULWARK_PREFIX ?? 'bulwark',
    )
    .option('--json', 'print JSON for scripts');
}

/** What a command needs of the broker beyond a connection. */
export interface BrokerNeeds {
  /** The event and dead-letter streams must exist (not for key-value buckets or discovery). @default true */
  readonly streams?: boolean;
}

/**
 * Runs `work` on a started transport chosen as `createRuntime` chooses one ({@link transportFromEnv}:
 * `NATS_URL`, defaulting to {@link DEFAULT_NATS_URL}), bound to what exists, closing it afterwards.
 * @throws {CliError} when the broker cannot be reached within {@link CONNECT_TIMEOUT_MS}, or holds nothing under the prefix
 */
export async function withTransport<T>(
  opts: BrokerOptions,
  work: (t: QueueTransport) => Promise<T>,
  needs: BrokerNeeds = {},
): Promise<T> {
  const env = brokerEnv(opts.prefix);
  const transport = transportFromEnv(env, {
    requestTimeoutMs: CONNECT_TIMEOUT_MS,
    name: 'bulwark-cli',
    // A mistyped --prefix must say so, not leave empty streams behind.
    provision: false,
    requireStreams: needs.streams ?? true,
  });
  try {
    await transport.start({ service: 'bulwark-cli', logger: silentLogger });
  } catch (err) {
    if (err instanceof MissingStreamError)
      throw new CliError(`nothing to read at ${env.NATS_URL}: ${err.message}`);
    throw new CliError(`cannot reach the broker at ${env.NATS_URL} (${causeOf(err)})`);
  }
  try {
    return await work(transport);
  } finally {
    await transport.close();
  }
}

/** The innermost reason of a connection failure: `ECONNREFUSED`, a timeout, … */
function causeOf(err: unknown): string {
  let e = err as { cause?: unknown; code?: unknown; errors?: unknown[]; message?: string } | undefined;
  while (e?.cause) e = e.cause;
  if (e?.errors?.[0]) e = e.errors[0];
  return typeof e?.code === 'string' ? e.code : (e?.message ?? String(err));
}

/** Parses a positive integer option. */
export function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n <= 0) throw new InvalidArgumentError('expected a positive integer');
  return n;
}

/** Parses a comma-separated list option. */
export function list(value: string): string[] {
  const items = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (items.length === 0) throw new InvalidArgumentError('expected a comma-separated list');
  return items;
}

/** Parses `--url`: an http(s) URL. */
export function httpUrl(value: string): string {
  try {
    const url = new URL(value);
    if (url.protocol === 'http:' || url.protocol === 'https:')
      return url.origin + url.pathname.replace(/\/$/, '');
  } catch {
    // falls through to the error below
  }
  throw new InvalidArgumentError('expected an http:// or https:// URL');
}

/**
 * GETs or POSTs JSON at a running service.
 * @throws {CliError} when the service cannot be reached, or answers other than `accept`
 */
export async function fetchJson(
  url: string,
  init: {
    method?: 'GET' | 'POST';
    body?: unknown;
    token?: string | undefined;
    accept?: readonly number[];
  } = {},
): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(url, {
      method: init.method ?? 'GET',
      signal: AbortSignal.timeout(CONNECT_TIMEOUT_MS * 5),
      headers: {
        accept: 'application/json',
        ...(init.body !== undefined && { 'content-type': 'application/json' }),
        ...(init.token && { authorization: `Bearer ${init.token}` }),
      },
      ...(init.body !== undefined && { body: JSON.stringify(init.body) }),
    });
  } catch (err) {
    throw new CliError(`cannot reach ${new URL(url).origin} (${causeOf(err)})`);
  }
  const text = await res.text();
  if (!(init.accept ?? [200]).includes(res.status)) {
    let reason = text;
    try {
      reason = (JSON.parse(text) as { error?: string }).error ?? text;
    } catch {
      // not JSON: the text itself
    }
    throw new CliError(`${res.status} from ${new URL(url).pathname}: ${reason.slice(0, 200)}`);
  }
  return JSON.parse(text) as unknown;
}
