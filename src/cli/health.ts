import type { Command } from 'commander';
import type { HealthReport } from '../health/types.js';
import {
  brokerCommand,
  CliError,
  fetchJson,
  httpUrl,
  paint,
  printJson,
  statusColor,
  withNats,
  type BrokerOptions,
} from './context.js';

interface HealthOptions extends BrokerOptions {
  readonly url?: string;
  readonly service?: string;
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

/** The reports of every live instance of `service`, found through discovery on NATS (`$SRV`). */
async function overNats(service: string, o: HealthOptions): Promise<HealthReport[]> {
  return withNats(o, async (t) => {
    const presence = t.presence?.();
    if (!presence) throw new CliError('this NATS transport offers no discovery; use --url');
    const instances = await presence.discover(service, 1_000);
    if (instances.length === 0) throw new CliError(`no live instance of "${service}" answered on NATS`);
    return instances.map((i) => i.health as HealthReport);
  });
}

/**
 * `bulwark health --url http://127.0.0.1:8080` (one instance, over HTTP) or
 * `bulwark health --service accounts` (every live instance, over NATS); exits 1 when one is UNHEALTHY.
 */
export function healthCommand(program: Command): void {
  brokerCommand(
    program
      .command('health')
      .description(
        "a running service's health report: GET <url>/health, or its instances on NATS; exits 1 when UNHEALTHY",
      )
      .option('--url <url>', 'where the service listens (rt.listen), e.g. http://127.0.0.1:8080', httpUrl)
      .option('--service <service>', 'ask every live instance of this service over NATS (NATS_URL)'),
  ).action(async (opts: HealthOptions) => {
    const base = opts.url ?? (process.env.BULWARK_URL ? httpUrl(process.env.BULWARK_URL) : undefined);
    if (!base && !opts.service)
      throw new CliError(
        'say which service: --url http://HOST:PORT (or BULWARK_URL), or --service <name> over NATS',
      );
    const reports = base
      ? [(await fetchJson(`${base}/health`, { accept: [200, 503] })) as HealthReport]
      : await overNats(opts.service!, opts);
    if (opts.json) printJson(base ? reports[0] : reports);
    else process.stdout.write(`${reports.map(formatHealth).join('\n\n')}\n`);
    if (reports.some((r) => r.status === 'UNHEALTHY')) process.exitCode = 1;
  });
}
