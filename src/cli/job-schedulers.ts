import type { Command } from 'commander';
import { MissingStreamError } from '../errors.js';
import { schedulersBucket, type SchedulerInfo } from '../queue/schedule.js';
import { listSchedulers } from '../queue/scheduler-store.js';
import type { KeyValueStore } from '../transport/key-value.js';
import type { Transport } from '../transport/transport.js';
import { brokerCommand, withTransport, type BrokerOptions } from './broker.js';
import { paint, printJson, safe, safeJson } from './output.js';

const when = (ms: number | undefined): string => (ms === undefined ? '—' : new Date(ms).toISOString());

/** One scheduler on one line: name, schedule, next and last slot, data. */
function line(s: SchedulerInfo): string {
  const schedule =
    s.everyMs !== undefined
      ? `every ${s.everyMs} ms`
      : `cron "${safe(s.cron ?? '')}"${s.tz ? ` ${safe(s.tz)}` : ''}`;
  return `${paint('bold', safe(s.name))}  ${schedule}  next ${when(s.nextSlot)}  last ${when(s.lastSlot)}  data ${safeJson(s.data)}`;
}

/** Opens the schedulers bucket only if it exists: reading never creates one. */
async function bucket(t: Transport): Promise<KeyValueStore | undefined> {
  try {
    return await t.keyValue(schedulersBucket(t.namespace), { create: false });
  } catch (err) {
    if (err instanceof MissingStreamError) return undefined;
    throw err;
  }
}

/** `bulwark jobs schedulers <queue>`: a queue's job schedulers, read from the broker; creates nothing. */
export function schedulersCommand(jobs: Command): void {
  brokerCommand(
    jobs
      .command('schedulers')
      .description('job schedulers (repeatable jobs) of a queue: schedule, next and last slot')
      .argument('<queue>', 'queue name'),
  ).action((name: string, o: BrokerOptions) =>
    withTransport(
      o,
      async (t) => {
        const kv = await bucket(t);
        const list = kv ? await listSchedulers(kv, name, Date.now()) : [];
        if (o.json) return printJson(list);
        if (list.length === 0) return void process.stdout.write(`${safe(name)}: no job schedulers\n`);
        for (const s of list) process.stdout.write(`${line(s)}\n`);
      },
      { streams: false },
    ),
  );
}
