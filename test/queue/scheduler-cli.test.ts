import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { createRuntime } from '../../src/runtime/create-runtime.js';
import type { Runtime } from '../../src/runtime/runtime.js';
import { natsTransport } from '../../src/transport/nats/nats-transport.js';
import type { SchedulerInfo } from '../../src/queue/schedule.js';
import { dropAllStreams, json, runCli } from '../cli/run-cli.js';
import { testEvents, testLogger } from '../support/events.js';
import { uniquePrefix } from '../transport/nats/helpers.js';

/** Names of the server's streams under `prefix`, KV buckets (`KV_<prefix>_…`) included. */
async function streamsOf(url: string, prefix: string): Promise<string[]> {
  const nc = await connect({ servers: url });
  try {
    const names: string[] = [];
    for await (const s of (await jetstreamManager(nc)).streams.list()) names.push(s.config.name);
    return names.filter((n) => n.toLowerCase().includes(prefix.toLowerCase())).sort();
  } finally {
    await nc.close();
  }
}

describe('bulwark jobs schedulers', () => {
  const url = inject('natsUrl');
  const prefixes: string[] = [];
  let rt: Runtime<typeof testEvents.schemas> | undefined;
  const cli = (prefix: string, ...args: string[]) => runCli([...args, '--prefix', prefix], { NATS_URL: url });

  afterEach(async () => {
    await rt?.shutdown();
    rt = undefined;
    for (const p of prefixes.splice(0)) await dropAllStreams(url, p);
  });

  it('lists a queue’s schedulers with their schedule and next slot', async () => {
    const prefix = uniquePrefix();
    prefixes.push(prefix);
    rt = await createRuntime({
      service: 'accounts',
      events: testEvents,
      transport: natsTransport({ servers: url, prefix }),
      logger: testLogger,
      handleSignals: false,
    });
    const q = rt.queue('emails');
    await q.repeat('digest', { list: 'weekly' }, { cron: '0 3 * * 1', tz: 'Europe/Berlin' });
    await q.repeat('ping', null, { everyMs: 60_000 });
    const other = rt.queue('other');
    await other.repeat('elsewhere', null, { everyMs: 1_000 });
    await Promise.all([q.ready(), other.ready()]);
    const before = await streamsOf(url, prefix);

    const listed = json<SchedulerInfo[]>(await cli(prefix, 'jobs', 'schedulers', 'emails', '--json'));
    expect(listed.map((s) => s.name)).toEqual(['digest', 'ping']);
    expect(listed[0]).toMatchObject({ cron: '0 3 * * 1', tz: 'Europe/Berlin', data: { list: 'weekly' } });
    expect(new Date(listed[0]!.nextSlot!).getUTCDay()).toBe(1); // a Monday
    expect(listed[1]!.nextSlot! % 60_000).toBe(0);

    const text = await cli(prefix, 'jobs', 'schedulers', 'emails');
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(
      /^digest {2}cron "0 3 \* \* 1" Europe\/Berlin {2}next \d{4}-\d\d-\d\dT0[12]:00:00\.000Z {2}last — {2}data \{"list":"weekly"\}$/m,
    );
    expect(text.stdout).toMatch(/^ping {2}every 60000 ms {2}next /m);
    expect(await streamsOf(url, prefix)).toEqual(before);
  });

  it('says there are none, and creates nothing, where no scheduler was ever defined', async () => {
    const prefix = uniquePrefix();
    prefixes.push(prefix);
    const run = await cli(prefix, 'jobs', 'schedulers', 'emails');
    expect(run).toMatchObject({ code: 0, stdout: 'emails: no job schedulers\n' });
    expect(json<unknown[]>(await cli(prefix, 'jobs', 'schedulers', 'emails', '--json'))).toEqual([]);
    expect(await streamsOf(url, prefix)).toEqual([]);
  });
});
