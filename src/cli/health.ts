import type { Command } from 'commander';
import type { HealthReport } from '../health/types.js';
import { CliError, fetchJson, httpUrl, paint, printJson, statusColor } from './context.js';

interface HealthOptions {
  readonly url?: string;
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

/** `bulwark health --url http://127.0.0.1:8080 [--json]`: a running service's health report. */
export function healthCommand(program: Command): void {
  program
    .command('health')
    .description("a running service's health report (GET <url>/health); exits 1 when UNHEALTHY")
    .option('--url <url>', 'where the service listens (rt.listen), e.g. http://127.0.0.1:8080', httpUrl)
    .option('--json', 'print the report as JSON')
    .action(async (opts: HealthOptions) => {
      const base = opts.url ?? (process.env.BULWARK_URL ? httpUrl(process.env.BULWARK_URL) : undefined);
      if (!base) throw new CliError('say where the service listens: --url http://HOST:PORT (or BULWARK_URL)');
      const report = (await fetchJson(`${base}/health`, { accept: [200, 503] })) as HealthReport;
      if (opts.json) printJson(report);
      else process.stdout.write(`${formatHealth(report)}\n`);
      if (report.status === 'UNHEALTHY') process.exitCode = 1;
    });
}
