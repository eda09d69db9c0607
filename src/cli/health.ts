import type { Command } from 'commander';
import type { HealthReport } from '../health/types.js';
import type { DiscoveredInstance } from '../transport/presence.js';
import { withTransport } from './broker.js';
import { fetchJson } from './http.js';
import { CliError, paint, printJson, statusColor } from './output.js';
import { httpUrl } from './parse.js';

interface HealthOptions {
  readonly url?: string;
  readonly service?: string;
  readonly json?: boolean;
}

const ms = (v: number): string => (v < 1_000 ? `${Math.round(v)} ms` : `${(v / 1_000).toFixed(1)} s`);

function line(name: string, status: string, detail: string): string {
  return `  ${paint(statusColor(status), status.padEnd(9))} ${name.padEnd(24)} ${paint('dim', detail)}`;
}

/** The report as coloured lines for people. */
export function formatHealth(r: HealthReport): string {
  const out = [
    `${paint('bold', r.service)} ${r.version} (${r.instance}) is ${paint(statusColor(r.status), r.status)}, up ${ms(r.uptime)}`,
  ];
  if (r.override) out.push(`  override: ${r.override.status} — ${r.override.message}`);
  const checks = Object.entries(r.checks);
  if (checks.length) out.push(paint('bold', 'checks'));
  for (const [name, c] of checks)
    out.push(line(name, c.status, `${c.message} · ${ms(c.responseTime)}${c.critical ? ' · critical' : ''}`));
  const services = Object.entries(r.services);
  if (services.length) out.push(paint('bold', 'services'));
  for (const [id, s] of services)
    out.push(line(id, s.status, `${s.name}${s.breaker ? ` · breaker ${s.breaker}` : ''}`));
  const breakers = Object.values(r.circuitBreakers);
  if (breakers.length) out.push(paint('bold', 'circuit breakers'));
  for (const b of breakers)
    out.push(line(b.name, b.state, `failure rate ${(b.failureRate * 100).toFixed(1)} %`));
  const actors = Object.entries(r.actors);
  if (actors.length) out.push(paint('bold', 'actors'));
  for (const [id, a] of actors)
    out.push(line(id, a.status, `${a.state ?? ''}${a.restarts ? ` · ${a.restarts} restarts` : ''}`));
  return out.join('\n');
}

/** What an instance says of its health in discovery: a summary (the full report is at its `/health`). */
interface HealthSummary {
  readonly status?: string;
  readonly uptime?: number;
}

/** How long discovery collects answers. */
const DISCOVERY_WAIT_MS = 750;

/** Every live instance of `service`, found through the broker's discovery (`$SRV` on NATS), with its health summary. */
async function discovered(service: string): Promise<DiscoveredInstance[]> {
  const instances = await withTransport(
    { prefix: process.env.BULWARK_PREFIX ?? 'bulwark' },
    async (t) => {
      const presence = t.presence?.();
      if (!presence) throw new CliError(`the ${t.kind} transport has no discovery`);
      return presence.discover(service, DISCOVERY_WAIT_MS);
    },
    { streams: false },
  );
  if (instances.length === 0) throw new CliError(`no live instance of "${service}" answered`);
  return instances;
}

function instanceLine(i: DiscoveredInstance): string {
  const h = (i.health ?? {}) as HealthSummary;
  const status = h.status ?? 'UNKNOWN';
  const up = h.uptime === undefined ? '' : `, up ${ms(h.uptime)}`;
  return line(i.id, status, `${i.name} ${i.version}${i.started ? ` · started ${i.started}` : ''}${up}`);
}

/**
 * `bulwark health --url http://127.0.0.1:8080` (one instance's report, over HTTP) or
 * `bulwark health --service accounts` (every live instance, over NATS); exits 1 when one is UNHEALTHY.
 */
export function healthCommand(program: Command): void {
  program
    .command('health')
    .description(
      "a running service's health report: GET <url>/health, or its instances on NATS; exits 1 when UNHEALTHY",
    )
    .option('--url <url>', 'where the service serves HTTP, e.g. http://127.0.0.1:8080', httpUrl)
    .option('--service <service>', 'every live instance of this service and its status, over NATS (NATS_URL)')
    .option('--json', 'print JSON: the report (with --url), or the instances (with --service)')
    .action(async (opts: HealthOptions) => {
      const base = opts.url ?? (process.env.BULWARK_URL ? httpUrl(process.env.BULWARK_URL) : undefined);
      if (!base && !opts.service)
        throw new CliError(
          'say which service: --url http://HOST:PORT (or BULWARK_URL), or --service <name> over NATS',
        );
      if (base) {
        const report = (await fetchJson(`${base}/health`, { accept: [200, 503] })) as HealthReport;
        if (opts.json) printJson(report);
        else process.stdout.write(`${formatHealth(report)}\n`);
        if (report.status === 'UNHEALTHY') process.exitCode = 1;
        return;
      }
      const instances = await discovered(opts.service!);
      if (opts.json) printJson(instances);
      else process.stdout.write(`${instances.map(instanceLine).join('\n')}\n`);
      if (instances.some((i) => (i.health as HealthSummary | undefined)?.status === 'UNHEALTHY'))
        process.exitCode = 1;
    });
}
