import { Option, type Command } from 'commander';
import type { DeadLetter, DeadLetterQuery, DeadLetterStore } from '../transport/dead-letters.js';
import { brokerCommand, withTransport, type BrokerOptions } from './broker.js';
import { CliError, paint, printJson, printTable, safe, safeJson, type Column } from './output.js';
import { eventType, list, positiveInt } from './parse.js';
import { ProgressBar } from './progress.js';

interface SelectOptions extends BrokerOptions {
  readonly ids?: string[];
  readonly type?: string;
  readonly group?: string;
  readonly reason?: DeadLetterQuery['reason'];
  readonly all?: boolean;
  readonly limit?: number;
}

/** Dead letters moved per request while a long redrive or purge shows its progress. */
const STEPS = 50;

function query(o: SelectOptions): DeadLetterQuery {
  return {
    ...(o.ids && { ids: o.ids }),
    ...(o.type && { type: o.type }),
    ...(o.group && { group: o.group }),
    ...(o.reason && { reason: o.reason }),
  };
}

function selection(cmd: Command): Command {
  return brokerCommand(cmd)
    .option('--ids <ids>', 'dead letter ids (or event ids), comma-separated', list)
    .option('--type <type>', 'event type (one type, no wildcards)', eventType)
    .option('--group <group>', 'subscriber group (a queue\'s is "queue:<name>")')
    .addOption(
      new Option('--reason <reason>', 'why they died').choices([
        'handler',
        'validation',
        'decode',
        'timeout',
      ]),
    );
}

const COLUMNS: readonly Column[] = [
  { title: 'ID', width: 8 },
  { title: 'TYPE', width: 22 },
  { title: 'GROUP', width: 16 },
  { title: 'REASON', width: 10 },
  { title: 'TRIES', width: 5 },
  { title: 'FAILED AT', width: 20 },
  { title: 'ERROR', width: 0 },
];
const COLOURS: Record<number, 'bold' | 'red' | 'dim'> = { 0: 'bold', 3: 'red', 5: 'dim' };

function cells(dl: DeadLetter): string[] {
  const when = dl.failedAt.replace('T', ' ').replace(/\.\d+Z$/, 'Z');
  const error = `${dl.error.name}: ${dl.error.message}`;
  return [dl.id, dl.event.type, dl.group, dl.reason, `${dl.attempts}×`, when, error];
}

/** Dead letters as a table with a header; everything from the broker is printed terminal-safe. */
function printDeadLetters(dead: readonly DeadLetter[]): void {
  printTable(COLUMNS, dead.map(cells), (i, _cell, padded) => {
    const colour = COLOURS[i];
    return colour ? paint(colour, padded) : padded;
  });
}

/** Moves the selected dead letters in steps, with a progress bar for long runs. */
async function inSteps(
  store: DeadLetterStore,
  o: SelectOptions,
  verb: 'redrive' | 'purge',
): Promise<{ redriven?: number; purged?: number }> {
  if (!o.all && !o.ids && !o.type && !o.group && !o.reason)
    throw new CliError(`say which dead letters to ${verb}: --ids, --type, --group, --reason, or --all`);
  const selected = await store.list({ ...query(o), limit: Number.MAX_SAFE_INTEGER });
  const size = Math.max(1, Math.ceil(selected.length / STEPS));
  const bar = new ProgressBar(verb === 'redrive' ? 'redriving' : 'purging', selected.length);
  let moved = 0;
  for (let i = 0; i < selected.length; i += size) {
    const ids = selected.slice(i, i + size).map((dl) => dl.id);
    const out =
      verb === 'redrive' ? (await store.redrive({ ids })).redriven : (await store.purge({ ids })).purged;
    moved += out;
    bar.update(Math.min(i + size, selected.length));
  }
  bar.done();
  return verb === 'redrive' ? { redriven: moved } : { purged: moved };
}

/** `bulwark dlq ls|show|redrive|purge`: dead letters on JetStream at `NATS_URL`. */
export function dlqCommand(program: Command): void {
  const dlq = program.command('dlq').description('dead letters on NATS JetStream (NATS_URL)');
  selection(dlq.command('ls').description('list dead letters, oldest first'))
    .option('--limit <n>', 'at most this many', positiveInt, 100)
    .action((o: SelectOptions) =>
      withTransport(o, async (t) => {
        const dead = await t.deadLetters.list({ ...query(o), limit: o.limit ?? 100 });
        if (o.json) return printJson(dead);
        if (dead.length === 0) return void process.stdout.write('no dead letters\n');
        printDeadLetters(dead);
      }),
    );
  brokerCommand(
    dlq.command('show').description('one dead letter, with its event').argument('<id>', 'dead letter id'),
  ).action((id: string, o: BrokerOptions) =>
    withTransport(o, async (t) => {
      const dl = await t.deadLetters.get(id);
      if (!dl) throw new CliError(`no dead letter ${id}`);
      if (o.json) return printJson(dl);
      printDeadLetters([dl]);
      process.stdout.write(`subject ${safe(dl.subject)}${dl.seq ? ` (seq ${dl.seq})` : ''}\n`);
      process.stdout.write(`${safeJson(dl.event, 2)}\n`);
    }),
  );
  for (const verb of ['redrive', 'purge'] as const) {
    selection(
      dlq
        .command(verb)
        .description(verb === 'redrive' ? 'republish to the group they died in' : 'delete for good'),
    )
      .option('--all', `${verb} every dead letter`)
      .action((o: SelectOptions) =>
        withTransport(o, async (t) => {
          const out = await inSteps(t.deadLetters, o, verb);
          if (o.json) return printJson(out);
          const n = out.redriven ?? out.purged ?? 0;
          process.stdout.write(`${verb === 'redrive' ? 'redriven' : 'purged'}: ${n}\n`);
        }),
      );
  }
}
