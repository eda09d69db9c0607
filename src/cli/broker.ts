import type { Command } from 'commander';
import { MissingStreamError } from '../errors.js';
import { silentLogger } from '../logging.js';
import type { QueueTransport } from '../queue/store.js';
import { transportFromEnv } from '../runtime/create-runtime.js';
import { CliError } from './output.js';

/** Options every broker command takes. */
export interface BrokerOptions {
  readonly prefix: string;
  readonly json?: boolean;
}

/** How long the CLI waits to connect to anything. */
export const CONNECT_TIMEOUT_MS = 2_000;

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
      'the prefix the services run under (env BULWARK_PREFIX)',
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
    startWithoutBroker: false,
  });
  try {
    await transport.start({ service: 'bulwark-cli', logger: silentLogger });
  } catch (err) {
    if (err instanceof MissingStreamError)
      throw new CliError(
        `nothing to read at ${env.NATS_URL}: no stream ${err.stream} under prefix "${opts.prefix}" (is --prefix right? nothing was created)`,
      );
    throw new CliError(`cannot reach the broker at ${env.NATS_URL} (${causeOf(err)})`);
  }
  try {
    return await work(transport);
  } finally {
    await transport.close();
  }
}

/** The innermost reason of a connection failure: `ECONNREFUSED`, a timeout, … */
export function causeOf(err: unknown): string {
  let e = err as { cause?: unknown; code?: unknown; errors?: unknown[]; message?: string } | undefined;
  while (e?.cause) e = e.cause;
  if (e?.errors?.[0]) e = e.errors[0];
  return typeof e?.code === 'string' ? e.code : (e?.message ?? String(err));
}
