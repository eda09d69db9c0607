import type { Command } from 'commander';
import {
  listShared,
  SHARED_BREAKER_BUCKET,
  writeManual,
  type ManualAction,
  type SharedValue,
} from '../breaker/shared-format.js';
import type { BreakerRow, DashboardSnapshot } from '../http/dashboard/snapshot.js';
import { brokerCommand, withTransport, type BrokerOptions } from './broker.js';
import { fetchJson } from './http.js';
import { CliError, paint, printJson, statusColor } from './output.js';
import { httpUrl } from './parse.js';

interface BreakerCliOptions extends BrokerOptions {
  readonly url?: string;
  readonly token?: string;
  readonly service?: string;
}

/** A shared breaker as the bucket holds it. */
interface SharedRow {
  readonly key: string;
  readonly state: string;
  readonly manual: boolean;
  readonly by: string;
  readonly openedAt?: string;
}

const ACTIONS: readonly ManualAction[] = ['open', 'close', 'reset'];

async function sharedRows(o: BreakerCliOptions): Promise<SharedRow[]> {
  return withTransport(
    o,
    async (t) => {
      const shared = await listShared(await t.keyValue(SHARED_BREAKER_BUCKET), o.service);
      return shared.map(({ key, value: v }) => ({
        key,
        state: v.s,
        manual: v.manual === true,
        by: v.by,
        ...(v.at !== undefined && { openedAt: new Date(v.at).toISOString() }),
      }));
    },
    { streams: false },
  );
}

function printShared(rows: readonly SharedRow[]): void {
  if (rows.length === 0) return void process.stdout.write('no shared breakers\n');
  for (const r of rows) {
    const state = r.state.replace('FORCED_', '');
    const extra = `${r.manual ? 'manual · ' : ''}by ${r.by}${r.openedAt ? ` · opened ${r.openedAt}` : ''}`;
    process.stdout.write(
      `${paint(statusColor(state), r.state.padEnd(13))} ${r.key.padEnd(32)} ${paint('dim', extra)}\n`,
    );
  }
}

function printLocal(rows: readonly BreakerRow[]): void {
  if (rows.length === 0) return void process.stdout.write('no circuit breakers\n');
  for (const b of rows) {
    const extra = `failure rate ${(b.failureRate * 100).toFixed(1)} % · ${b.totalRequests} calls · ${b.rejectedCount} rejected`;
    const state = `${b.state}${b.forced ? ' (forced)' : ''}`;
    process.stdout.write(
      `${paint(statusColor(b.state), state.padEnd(18))} ${b.name.padEnd(24)} ${paint('dim', extra)}\n`,
    );
  }
}

/** Writes a manual state into the bucket; every instance sharing the breaker follows it. */
async function writeShared(key: string, action: ManualAction, o: BreakerCliOptions): Promise<SharedValue> {
  return withTransport(
    o,
    async (t) => {
      const kv = await t.keyValue(SHARED_BREAKER_BUCKET);
      const value = await writeManual(kv, key, action, 'bulwark-cli', Date.now());
      if (!value) throw new CliError(`no shared breaker "${key}" (see: bulwark breakers)`);
      return value;
    },
    { streams: false },
  );
}

function withUrl(cmd: Command): Command {
  return brokerCommand(cmd).option(
    '--url <url>',
    "a running service's HTTP address (rt.listen): every breaker, shared or not",
    httpUrl,
  );
}

/** `bulwark breakers [ls]` and `bulwark breakers open|close|reset <service.name>`. */
export function breakersCommand(program: Command): void {
  const breakers = program
    .command('breakers')
    .description(
      `circuit breakers: shared ones in the KV bucket ${SHARED_BREAKER_BUCKET}, or a service's with --url`,
    );
  withUrl(breakers.command('ls', { isDefault: true }).description('list breakers and their state'))
    .option('--service <service>', "only this service's shared breakers")
    .action(async (o: BreakerCliOptions) => {
      if (o.url) {
        const snap = (await fetchJson(`${o.url}/dashboard/api/snapshot`)) as DashboardSnapshot;
        return o.json ? printJson(snap.breakers) : printLocal(snap.breakers);
      }
      const rows = await sharedRows(o);
      return o.json ? printJson(rows) : printShared(rows);
    });
  for (const action of ACTIONS) {
    const what = { open: 'force open', close: 'force closed', reset: 'hand back to automatic control' }[
      action
    ];
    withUrl(
      breakers
        .command(action)
        .description(`${what}: writes the shared state, or with --url asks the service (admin token)`),
    )
      .argument('<breaker>', '<service>.<name> in the bucket; with --url, the breaker name')
      .option('--token <token>', 'admin token for --url (default BULWARK_ADMIN_TOKEN)')
      .action(async (name: string, o: BreakerCliOptions) => {
        if (o.url) {
          const token = o.token ?? process.env.BULWARK_ADMIN_TOKEN;
          if (!token) throw new CliError('--url needs the admin token: --token or BULWARK_ADMIN_TOKEN');
          const out = await fetchJson(`${o.url}/dashboard/api/breakers/action`, {
            method: 'POST',
            body: { name, action },
            token,
          });
          return o.json
            ? printJson(out)
            : void process.stdout.write(`${name}: ${(out as { state: string }).state}\n`);
        }
        if (!name.includes('.'))
          throw new CliError(`name the shared breaker as <service>.<name>, not "${name}"`);
        const value = await writeShared(name, action, o);
        return o.json
          ? printJson({ key: name, ...value })
          : void process.stdout.write(`${name}: ${value.s}\n`);
      });
  }
}
