import type { Command } from 'commander';
import { MissingStreamError } from '../errors.js';
import {
  LEGACY_SHARED_BREAKER_BUCKET,
  listShared,
  sharedBreakerBucket,
  writeManual,
  type ManualAction,
  type SharedValue,
} from '../breaker/shared-format.js';
import type { BreakerRow, DashboardSnapshot } from '../http/dashboard/snapshot.js';
import type { KeyValueStore } from '../transport/key-value.js';
import type { Transport } from '../transport/transport.js';
import { brokerCommand, withTransport, type BrokerOptions } from './broker.js';
import { fetchJson } from './http.js';
import { CliError, paint, printJson, printTable, statusColor } from './output.js';
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
  /** The bucket it was read from: the prefix's own, or the one every prefix shared before. */
  readonly bucket: string;
}

const ACTIONS: readonly ManualAction[] = ['open', 'close', 'reset'];

/** The buckets to read, the prefix's own first; the legacy one is read for one release more. */
function bucketsOf(prefix: string): string[] {
  const own = sharedBreakerBucket(prefix);
  return own === LEGACY_SHARED_BREAKER_BUCKET ? [own] : [own, LEGACY_SHARED_BREAKER_BUCKET];
}

/** Opens a bucket only if it exists: reading never creates one. @returns undefined when it does not */
async function existing(t: Transport, bucket: string): Promise<KeyValueStore | undefined> {
  try {
    return await t.keyValue(bucket, { create: false });
  } catch (err) {
    if (err instanceof MissingStreamError) return undefined;
    throw err;
  }
}

async function sharedRows(o: BreakerCliOptions): Promise<SharedRow[]> {
  return withTransport(
    o,
    async (t) => {
      const rows = new Map<string, SharedRow>();
      for (const bucket of bucketsOf(o.prefix)) {
        const kv = await existing(t, bucket);
        for (const { key, value: v } of kv ? await listShared(kv, o.service) : []) {
          if (rows.has(key)) continue;
          const openedAt = v.at === undefined ? {} : { openedAt: new Date(v.at).toISOString() };
          rows.set(key, { key, state: v.s, manual: v.manual === true, by: v.by, ...openedAt, bucket });
        }
      }
      return [...rows.values()];
    },
    { streams: false },
  );
}

function printShared(rows: readonly SharedRow[], prefix: string): void {
  if (rows.length === 0) return void process.stdout.write(`no shared breakers under prefix "${prefix}"\n`);
  const own = sharedBreakerBucket(prefix);
  const cells = rows.map((r) => {
    const legacy = r.bucket === own ? '' : ` · in the old shared bucket ${r.bucket}`;
    const opened = r.openedAt ? ` · opened ${r.openedAt}` : '';
    return [r.state, r.key, `${r.manual ? 'manual · ' : ''}by ${r.by}${opened}${legacy}`];
  });
  const columns = [
    { title: 'STATE', width: 13 },
    { title: 'BREAKER', width: 32 },
    { title: 'DETAILS', width: 0 },
  ];
  printTable(columns, cells, (i, cell, padded) =>
    i === 0
      ? paint(statusColor(cell.replace('FORCED_', '')), padded)
      : i === 2
        ? paint('dim', padded)
        : padded,
  );
}

function printLocal(rows: readonly BreakerRow[]): void {
  if (rows.length === 0) return void process.stdout.write('no circuit breakers\n');
  const cells = rows.map((b) => [
    `${b.state}${b.forced ? ' (forced)' : ''}`,
    b.name,
    `${(b.failureRate * 100).toFixed(1)} %`,
    String(b.totalRequests),
    String(b.rejectedCount),
  ]);
  const columns = [
    { title: 'STATE', width: 18 },
    { title: 'BREAKER', width: 24 },
    { title: 'FAILURE RATE', width: 12 },
    { title: 'CALLS', width: 8 },
    { title: 'REJECTED', width: 0 },
  ];
  printTable(columns, cells, (i, cell, padded) =>
    i === 0 ? paint(statusColor(cell.split(' ')[0] ?? cell), padded) : padded,
  );
}

/** Writes a manual state where the breaker is (its prefix's bucket, else the old shared one); every instance sharing it follows. */
async function writeShared(key: string, action: ManualAction, o: BreakerCliOptions): Promise<SharedValue> {
  return withTransport(
    o,
    async (t) => {
      for (const bucket of bucketsOf(o.prefix)) {
        const kv = await existing(t, bucket);
        const value = kv && (await writeManual(kv, key, action, 'bulwark-cli', Date.now()));
        if (value) return value;
      }
      throw new CliError(`no shared breaker "${key}" under prefix "${o.prefix}" (see: bulwark breakers)`);
    },
    { streams: false },
  );
}

function withUrl(cmd: Command): Command {
  return brokerCommand(cmd).option(
    '--url <url>',
    'where a running service serves HTTP: every breaker of that service, shared or not',
    httpUrl,
  );
}

/** `bulwark breakers ls` (`--url`: a service's own over HTTP, with its read token). */
function lsCommand(breakers: Command): void {
  withUrl(breakers.command('ls', { isDefault: true }).description('list breakers and their state'))
    .option('--service <service>', "only this service's shared breakers")
    .option('--token <token>', "with --url, the service's read or admin token (default BULWARK_READ_TOKEN)")
    .action(async (o: BreakerCliOptions) => {
      if (o.url) {
        const token = o.token ?? process.env.BULWARK_READ_TOKEN ?? process.env.BULWARK_ADMIN_TOKEN;
        const snap = (await fetchJson(`${o.url}/dashboard/api/snapshot`, { token })) as DashboardSnapshot;
        return o.json ? printJson(snap.breakers) : printLocal(snap.breakers);
      }
      const rows = await sharedRows(o);
      return o.json ? printJson(rows) : printShared(rows, o.prefix);
    });
}

/** `bulwark breakers open|close|reset <service.name>`. */
function actionCommand(breakers: Command, action: ManualAction): void {
  const what = { open: 'force open', close: 'force closed', reset: 'hand back to automatic control' }[action];
  withUrl(
    breakers
      .command(action)
      .description(`${what}: writes the shared state, or with --url asks the service (admin token)`),
  )
    .argument('<breaker>', '<service>.<name> as `bulwark breakers` lists it; with --url, the breaker name')
    .option('--token <token>', 'with --url, the admin token (default BULWARK_ADMIN_TOKEN)')
    .action(async (name: string, o: BreakerCliOptions) => {
      if (o.url) {
        const token = o.token ?? process.env.BULWARK_ADMIN_TOKEN;
        if (!token) throw new CliError('--url needs the admin token: --token or BULWARK_ADMIN_TOKEN');
        const body = { name, action };
        const out = await fetchJson(`${o.url}/dashboard/api/breakers/action`, {
          method: 'POST',
          body,
          token,
        });
        return o.json
          ? printJson(out)
          : void process.stdout.write(`${name}: ${(out as { state: string }).state}\n`);
      }
      if (!name.includes('.'))
        throw new CliError(`name the shared breaker as <service>.<name>, not "${name}"`);
      const value = await writeShared(name, action, o);
      return o.json ? printJson({ key: name, ...value }) : void process.stdout.write(`${name}: ${value.s}\n`);
    });
}

/** `bulwark breakers [ls]` and `bulwark breakers open|close|reset <service.name>`. */
export function breakersCommand(program: Command): void {
  const breakers = program
    .command('breakers')
    .description(
      "circuit breakers: the shared ones (kept on the broker, per prefix), or a running service's with --url",
    );
  lsCommand(breakers);
  for (const action of ACTIONS) actionCommand(breakers, action);
}
