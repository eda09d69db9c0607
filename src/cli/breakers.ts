import type { Command } from 'commander';
import { SHARED_BREAKER_BUCKET, type SharedValue } from '../breaker/shared.js';
import type { BreakerRow, DashboardSnapshot } from '../http/dashboard/snapshot.js';
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

const ACTIONS = { open: 'FORCED_OPEN', close: 'FORCED_CLOSED', reset: 'CLOSED' } as const;
type Action = keyof typeof ACTIONS;

const decoder = new TextDecoder();

async function sharedRows(o: BreakerCliOptions): Promise<SharedRow[]> {
  return withNats(o, async (t) => {
    const kv = await t.keyValue(SHARED_BREAKER_BUCKET);
    const keys = (await kv.keys()).filter((k) => !o.service || k.startsWith(`${o.service}.`)).sort();
    const rows: SharedRow[] = [];
    for (const key of keys) {
      const entry = await kv.get(key);
      if (!entry) continue;
      const v = JSON.parse(decoder.decode(entry.value)) as SharedValue;
      rows.push({
        key,
        state: v.s,
        manual: v.manual === true,
        by: v.by,
        ...(v.at !== undefined && { openedAt: new Date(v.at).toISOString() }),
      });
    }
    return rows;
  });
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
async function writeShared(key: string, action: Action, o: BreakerCliOptions): Promise<SharedValue> {
  return withNats(o, async (t) => {
    const kv = await t.keyValue(SHARED_BREAKER_BUCKET);
    if (!(await kv.get(key))) throw new CliError(`no shared breaker "${key}" (see: bulwark breakers)`);
    const value: SharedValue = {
      s: ACTIONS[action],
      ...(action === 'open' && { at: Date.now() }),
      by: 'bulwark-cli',
      manual: true,
    };
    await kv.put(key, new TextEncoder().encode(JSON.stringify(value)));
    return value;
  });
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
  for (const action of Object.keys(ACTIONS) as Action[]) {
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
