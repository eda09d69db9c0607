import type { Command } from 'commander';
import type { EndpointListing } from '../transport/requests.js';
import { brokerCommand, withTransport, type BrokerOptions } from './broker.js';
import { CliError, paint, printJson } from './output.js';
import { positiveInt } from './parse.js';

interface EndpointsOptions extends BrokerOptions {
  readonly wait: number;
}

/** One endpoint in a line: name, instance, counters. */
function endpointLine(e: EndpointListing): string {
  const c = e.counters;
  const counts = c
    ? `${c.requests} requests · ${c.errors} errors · avg ${c.requests ? (c.processingNs / c.requests / 1e6).toFixed(2) : '0.00'} ms` +
      (c.lastError ? ` · last error: ${c.lastError}` : '')
    : '';
  return `  ${paint('bold', e.name.padEnd(28))} ${e.service}/${e.instanceId}  ${paint('dim', counts)}`;
}

/**
 * `bulwark endpoints [service]`: the request/reply endpoints the live instances serve, from the
 * micro protocol's `$SRV.INFO` (with their schemas under `--json`) and `$SRV.STATS`.
 */
export function endpointsCommand(program: Command): void {
  brokerCommand(
    program
      .command('endpoints')
      .description('lists the endpoints live instances serve ($SRV.INFO), with their counters ($SRV.STATS)')
      .argument('[service]', 'only this service')
      .option('--wait <ms>', 'how long to collect answers', positiveInt, 750),
  ).action(async (service: string | undefined, opts: EndpointsOptions) => {
    const listed = await withTransport(
      opts,
      async (t) => {
        const requests = t.requests?.();
        if (!requests) throw new CliError(`the ${t.kind} transport has no request/reply`);
        return requests.endpoints(service, opts.wait);
      },
      { streams: false },
    );
    if (opts.json) return printJson(listed);
    if (listed.length === 0)
      throw new CliError(
        service ? `no live instance of "${service}" serves an endpoint` : 'no endpoints are served',
      );
    process.stdout.write(`${listed.map(endpointLine).join('\n')}\n`);
  });
}
