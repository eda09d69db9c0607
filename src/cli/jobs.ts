import type { Command } from 'commander';
import { systemClock } from '../time/clock.js';
import { MissingStreamError } from '../errors.js';
import { silentLogger } from '../logging.js';
import { deadLetterGroup } from '../queue/dead-letter.js';
import { Queue } from '../queue/queue.js';
import type { JobInfo } from '../queue/types.js';
import type { Transport } from '../transport/transport.js';
import { brokerCommand, withTransport, type BrokerOptions } from './broker.js';
import { CliError, paint, printJson, safe, safeJson, statusColor } from './output.js';
import { list, positiveInt } from './parse.js';
import { ProgressBar } from './progress.js';
import { schedulersCommand } from './job-schedulers.js';
import { jobAdminCommands } from './job-admin.js';

interface JobsOptions extends BrokerOptions {
  readonly ackWait?: number;
}

interface RetryOptions extends JobsOptions {
  readonly ids?: string[];
  readonly all?: boolean;
}

/** Runs `work` on the queue `name` at `NATS_URL`; the queue object only reads and adds, it takes no jobs. */
function withQueue<T>(
  name: string,
  o: JobsOptions,
  work: (q: Queue, t: Transport) => Promise<T>,
): Promise<T> {
  return withTransport(o, async (transport) => {
    const host = { transport, clock: systemClock, logger: silentLogger, inspect: undefined };
    const q = new Queue(name, o.ackWait === undefined ? {} : { ackWaitMs: o.ackWait }, host);
    try {
      await q.ready().catch((err: unknown) => {
        if (err instanceof MissingStreamError)
          throw new CliError(`no queue "${name}" under prefix "${o.prefix}" (nothing was created)`);
        throw err;
      });
      return await work(q, transport);
    } finally {
      await q.close();
    }
  });
}

function printJob(job: JobInfo): void {
  const lines = [
    `${paint('bold', safe(job.id))} ${safe(job.name)} — ${paint(statusColor(job.state), job.state)}, priority ${job.priority}, ${job.attempts} attempt(s)`,
    ...(job.error ? [`error: ${safe(`${job.error.name}: ${job.error.message}`)}`] : []),
    ...(job.result !== undefined ? [`result: ${safeJson(job.result)}`] : []),
    ...(job.progress !== undefined ? [`progress: ${safeJson(job.progress)}`] : []),
    ...(job.logs ? ['logs:', ...job.logs.map((l) => `  ${safe(l)}`)] : []),
    `data: ${safeJson(job.data, 2)}`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

/**
 * Adds every selected dead job again as a new job (same name, data and priority, a fresh id and
 * attempt count), then removes its dead letter.
 */
async function retryDead(
  q: Queue,
  t: Transport,
  o: RetryOptions,
): Promise<{ retried: { from: string; to: string }[] }> {
  if (!o.all && !o.ids) throw new CliError('say which dead jobs to retry: --ids <id,…> or --all');
  const group = deadLetterGroup(q.name);
  const dead = await t.deadLetters.list({
    group,
    ...(o.ids && { ids: o.ids }),
    limit: Number.MAX_SAFE_INTEGER,
  });
  const bar = new ProgressBar('retrying', dead.length);
  const retried: { from: string; to: string }[] = [];
  for (const dl of dead) {
    const before = await q.getJob(dl.event.id);
    const { id } = await q.add(before?.name || dl.event.type, dl.event.data, {
      ...(before && { priority: before.priority }),
    });
    await t.deadLetters.purge({ ids: [dl.id] });
    retried.push({ from: dl.event.id, to: id });
    bar.update(retried.length);
  }
  bar.done();
  return { retried };
}

/** A queue's consumers must match its options: one opened with another `ackWaitMs` needs it here. */
function queueCommand(cmd: Command): Command {
  return brokerCommand(cmd).option(
    '--ack-wait <ms>',
    'how long the queue waits for a job to be acknowledged, in ms, when it was opened with another than 30000',
    positiveInt,
  );
}

/**
 * `bulwark jobs counts|show|retry|schedulers <queue>`, and the admin actions
 * `pause|resume|cancel|remove|clean` (see `job-admin.ts`): a job queue on JetStream at `NATS_URL`.
 */
export function jobsCommand(program: Command): void {
  const jobs = program.command('jobs').description('job queues on NATS JetStream (NATS_URL)');
  schedulersCommand(jobs);
  jobAdminCommands(jobs, { command: queueCommand, withQueue });
  queueCommand(
    jobs.command('counts').description('jobs in each state').argument('<queue>', 'queue name'),
  ).action((name: string, o: JobsOptions) =>
    withQueue(name, o, async (q) => {
      const counts = await q.counts();
      if (o.json) return printJson(counts);
      const parts = Object.entries(counts).map(
        ([state, n]) => `${state} ${paint(n > 0 && state === 'dead' ? 'red' : 'bold', String(n))}`,
      );
      process.stdout.write(`${name}: ${parts.join(' · ')}\n`);
    }),
  );
  queueCommand(
    jobs.command('show').description('one job').argument('<queue>', 'queue name').argument('<id>', 'job id'),
  ).action((name: string, id: string, o: JobsOptions) =>
    withQueue(name, o, async (q) => {
      const job = await q.getJob(id);
      if (!job) throw new CliError(`no job ${safe(id)} in queue ${name}`);
      return o.json ? printJson(job) : printJob(job);
    }),
  );
  queueCommand(
    jobs.command('retry').description('add dead jobs again, as new jobs').argument('<queue>', 'queue name'),
  )
    .option('--ids <ids>', 'dead job ids, comma-separated', list)
    .option('--all', 'every dead job of the queue')
    .action((name: string, o: RetryOptions) =>
      withQueue(name, o, async (q, t) => {
        const out = await retryDead(q, t, o);
        if (o.json) return printJson(out);
        for (const r of out.retried) process.stdout.write(`${r.from} -> ${r.to}\n`);
        process.stdout.write(`retried: ${out.retried.length}\n`);
      }),
    );
}
