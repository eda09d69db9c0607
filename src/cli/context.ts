import { InvalidArgumentError, type Command } from 'commander';
import { silentLogger } from '../logging.js';
import type { Transport } from '../transport/transport.js';
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

/** The NATS servers from `NATS_URL`. */
export function natsServers(): string[] {
  return (process.env.NATS_URL ?? 'nats://127.0.0.1:4222').split(',').map((s) => s.trim());
}

/** The JetStream domain from `NATS_JS_DOMAIN`, as transport options. */
export function natsDomain(): { domain?: string } {
  const domain = process.env.NATS_JS_DOMAIN;
  return domain ? { domain } : {};
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

/**
 * Runs `work` on a started NATS transport at `NATS_URL`, closing it afterwards.
 * @throws {CliError} when the server cannot be reached within {@link CONNECT_TIMEOUT_MS}
 */
export async function withNats<T>(opts: BrokerOptions, work: (t: Transport) => Promise<T>): Promise<T> {
  const { natsTransport } = await import('../transport/nats/nats-transport.js');
  const servers = natsServers();
  const transport = natsTransport({
    servers,
    prefix: opts.prefix,
    requestTimeoutMs: CONNECT_TIMEOUT_MS,
    name: 'bulwark-cli',
    // A mistyped --prefix must say so, not leave empty streams behind.
    provision: false,
    ...natsDomain(),
  });
  try {
    await transport.start({ service: 'bulwark-cli', logger: silentLogger });
  } catch (err) {
    if (err instanceof MissingStreamError)
      throw new CliError(`nothing to read at ${servers.join(', ')}: ${err.message}`);
    throw new CliError(`cannot reach NATS at ${servers.join(', ')} (${causeOf(err)})`);
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
