import { InvalidArgumentError, Option, type Command } from 'commander';
import type { Queue } from '../queue/queue.js';
import type { FinishedJobState } from '../queue/types.js';
import type { BrokerOptions } from './broker.js';
import { CliError, printJson } from './output.js';
import { positiveInt } from './parse.js';

interface JobsOptions extends BrokerOptions {
  readonly ackWait?: number;
}

/** How `jobs` subcommands open a queue, handed in by `jobs.ts`. */
export interface QueueCli {
  /** Adds the broker and queue options to a subcommand. */
  readonly command: (cmd: Command) => Command;
  /** Runs `work` on the queue `name`; the queue object takes no jobs. */
  readonly withQueue: <T>(name: string, o: JobsOptions, work: (q: Queue) => Promise<T>) => Promise<T>;
}

interface CleanCliOptions extends JobsOptions {
  readonly state?: FinishedJobState;
  readonly olderThan?: number;
  readonly limit?: number;
}

/** Parses a duration in ms (0 allowed). */
function ms(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0) throw new InvalidArgumentError('expected a whole number of ms >= 0');
  return n;
}

function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

/** `jobs pause|resume <queue>`: for every worker of the queue, in every process. */
function pauseCommands(jobs: Command, { command, withQueue }: QueueCli): void {
  for (const verb of ['pause', 'resume'] as const)
    command(
      jobs
        .command(verb)
        .description(
          verb === 'pause'
            ? 'stop every worker of the queue from taking jobs (active ones finish)'
            : 'let the workers of a paused queue take jobs again',
        )
        .argument('<queue>', 'queue name'),
    ).action((name: string, o: JobsOptions) =>
      withQueue(name, o, async (q) => {
        await (verb === 'pause' ? q.pause() : q.resume());
        const { paused } = await q.counts();
        if (o.json) return printJson({ queue: name, paused });
        say(`${name}: ${paused ? 'paused' : 'running'}`);
      }),
    );
}

/** `jobs cancel|remove <queue> <id...>`: each job by id; says which ones it did not find live. */
function byIdCommands(jobs: Command, { command, withQueue }: QueueCli): void {
  for (const verb of ['cancel', 'remove'] as const)
    command(
      jobs
        .command(verb)
        .description(
          verb === 'cancel'
            ? 'cancel jobs: a waiting one at once, an active one by aborting it wherever it runs'
            : 'remove waiting, delayed or finished jobs (not active ones: cancel those)',
        )
        .argument('<queue>', 'queue name')
        .argument('<ids...>', 'job ids'),
    ).action((name: string, ids: string[], o: JobsOptions) =>
      withQueue(name, o, async (q) => {
        const done: string[] = [];
        const skipped: string[] = [];
        for (const id of ids)
          ((await (verb === 'cancel' ? q.cancel(id) : q.remove(id))) ? done : skipped).push(id);
        const key = verb === 'cancel' ? 'cancelled' : 'removed';
        if (o.json) return printJson({ [key]: done, skipped });
        say(`${key}: ${done.length}`);
        if (skipped.length > 0)
          say(
            `not ${key} (${verb === 'cancel' ? 'unknown or finished' : 'unknown or active'}): ${skipped.join(', ')}`,
          );
      }),
    );
}

/** `jobs clean <queue> --state <s> --older-than <ms>`: both are required, so nothing goes by accident. */
function cleanCommand(jobs: Command, { command, withQueue }: QueueCli): void {
  command(
    jobs
      .command('clean')
      .description('remove the records of finished jobs older than an age')
      .argument('<queue>', 'queue name'),
  )
    .addOption(new Option('--state <state>', 'finished state').choices(['completed', 'dead', 'cancelled']))
    .option('--older-than <ms>', 'only jobs finished at least this long ago, in ms', ms)
    .option('--limit <n>', 'at most this many', positiveInt)
    .action((name: string, o: CleanCliOptions) =>
      withQueue(name, o, async (q) => {
        if (!o.state || o.olderThan === undefined)
          throw new CliError('say which finished jobs to clean: --state <state> and --older-than <ms>');
        const removed = await q.clean({
          state: o.state,
          olderThanMs: o.olderThan,
          ...(o.limit !== undefined && { limit: o.limit }),
        });
        if (o.json) return printJson({ removed });
        say(`removed: ${removed}`);
      }),
    );
}

/** `bulwark jobs pause|resume|cancel|remove|clean <queue> …`: admin actions on a queue. */
export function jobAdminCommands(jobs: Command, cli: QueueCli): void {
  pauseCommands(jobs, cli);
  byIdCommands(jobs, cli);
  cleanCommand(jobs, cli);
}
