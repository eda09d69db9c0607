import type { Command } from 'commander';
import { isNoRespondersError, isRemoteError, isTimeoutError } from '../errors.js';
import { REQUEST_ID_HEADER } from '../transport/requests.js';
import { uuidv7 } from '../events/ids.js';
import { brokerCommand, withTransport, type BrokerOptions } from './broker.js';
import { CliError, printJson } from './output.js';
import { positiveInt } from './parse.js';

interface CallOptions extends BrokerOptions {
  readonly timeout: number;
}

const decoder = new TextDecoder();

/** @returns the request body: the argument, checked to be JSON */
function body(json: string): string {
  try {
    JSON.parse(json);
    return json;
  } catch {
    throw new CliError(`the request is not JSON: ${json}`);
  }
}

/** The failure of a call as one line: the endpoint's error code and message, or what kept it from answering. */
function callError(endpoint: string, err: unknown, timeoutMs: number): CliError {
  if (isRemoteError(err)) return new CliError(`${endpoint} answered ${err.code}: ${err.message}`);
  if (isNoRespondersError(err)) return new CliError(`no instance serves ${endpoint}`);
  if (isTimeoutError(err)) return new CliError(`${endpoint} did not answer within ${timeoutMs} ms`);
  return new CliError(`calling ${endpoint} failed: ${(err as Error).message}`);
}

/**
 * `bulwark call orders.get '{"id":"1"}'`: sends one request to an endpoint the runtimes serve and
 * prints its answer (JSON); an error answer exits 1 with its code and message.
 */
export function callCommand(program: Command): void {
  brokerCommand(
    program
      .command('call')
      .description(
        'sends one request to an endpoint (rt.handle) and prints the answer; exits 1 on an error answer',
      )
      .argument('<endpoint>', 'the endpoint, e.g. orders.get')
      .argument('[json]', 'the request, as JSON', '{}')
      .option('--timeout <ms>', 'how long to wait for the answer', positiveInt, 5_000),
  ).action(async (endpoint: string, json: string, opts: CallOptions) => {
    const request = body(json);
    const reply = await withTransport(
      opts,
      async (t) => {
        const requests = t.requests?.();
        if (!requests) throw new CliError(`the ${t.kind} transport has no request/reply`);
        const headers = { [REQUEST_ID_HEADER]: uuidv7() };
        return requests
          .request({ endpoint, body: request, timeoutMs: opts.timeout, headers })
          .catch((err: unknown) => {
            throw callError(endpoint, err, opts.timeout);
          });
      },
      { streams: false },
    );
    const text = typeof reply === 'string' ? reply : decoder.decode(reply);
    try {
      printJson(JSON.parse(text));
    } catch {
      process.stdout.write(`${text}\n`);
    }
  });
}
