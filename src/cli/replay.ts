import { InvalidArgumentError, type Command } from 'commander';
import type { ReplayRequest, ReplayResult, Transport } from '../transport/transport.js';
import { brokerCommand, withTransport, type BrokerOptions } from './broker.js';
import { CliError, printJson } from './output.js';
import { eventType, positiveInt } from './parse.js';
import { ProgressBar } from './progress.js';

/** Commander's options: the replay request itself, plus the broker's. */
type ReplayCliOptions = BrokerOptions & Omit<ReplayRequest, 'onProgress'>;

const UNITS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `--since`: an ISO time, or a duration back from now (`90s`, `15m`, `2h`, `1d`). */
export function sinceOption(value: string): Date {
  const rel = /^(\d+)([smhd])$/.exec(value);
  if (rel) return new Date(Date.now() - Number(rel[1]) * UNITS[rel[2]!]!);
  const at = new Date(value);
  if (Number.isNaN(at.getTime()))
    throw new InvalidArgumentError('expected an ISO time or a duration like 15m');
  return at;
}

async function replay(t: Transport, request: ReplayRequest): Promise<ReplayResult> {
  if (!t.replay) throw new CliError(`the ${t.kind} transport keeps no history to replay`);
  return t.replay(request).catch((err: unknown) => {
    throw new CliError(`replay failed: ${(err as Error).message}`);
  });
}

/** `bulwark replay --type T --group G (--from-seq N [--to-seq M] | --since 1h)`. */
export function replayCommand(program: Command): void {
  brokerCommand(
    program
      .command('replay')
      .description('re-deliver a range of the event stream to one group (the others skip it)')
      .requiredOption('--type <type>', 'event type to replay (one type, no wildcards)', eventType)
      .requiredOption('--group <group>', 'the only group that handles the replayed events')
      .option('--from-seq <seq>', 'first stream sequence (inclusive)', positiveInt)
      .option('--to-seq <seq>', 'last stream sequence (inclusive)', positiveInt)
      .option('--since <time>', 'events stored since an ISO time or a duration back (15m, 2h)', sinceOption)
      .option('--dry-run', 'count what would be replayed'),
  ).action(async (o: ReplayCliOptions) => {
    if (o.fromSeq === undefined && o.since === undefined)
      throw new CliError('say where to start: --from-seq <seq> or --since <time>');
    if (o.fromSeq !== undefined && o.since !== undefined)
      throw new CliError('give --from-seq or --since, not both');
    if (o.fromSeq !== undefined && o.toSeq !== undefined && o.toSeq < o.fromSeq)
      throw new CliError('--to-seq is before --from-seq');
    let bar: ProgressBar | undefined;
    const { prefix: _prefix, json: _json, ...wanted } = o;
    const request: ReplayRequest = {
      ...wanted,
      onProgress: (done, total) => (bar ??= new ProgressBar('replaying', total)).update(done),
    };
    const result = await withTransport(o, (t) => replay(t, request));
    bar?.done();
    if (o.json) return printJson(result);
    const range = result.firstSeq === undefined ? '' : ` (seq ${result.firstSeq}–${result.lastSeq})`;
    process.stdout.write(
      `${o.dryRun ? 'would replay' : 'replayed'} ${result.replayed} ${o.type} to ${o.group}${range}\n`,
    );
  });
}
