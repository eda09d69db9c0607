import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { createRuntime } from '../../src/runtime/create-runtime.js';
import type { Runtime } from '../../src/runtime/runtime.js';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { natsPresence } from '../../src/transport/nats/discovery.js';
import { natsTransport } from '../../src/transport/nats/nats-transport.js';
import type { Transport } from '../../src/transport/transport.js';
import type { DeadLetter } from '../../src/transport/dead-letters.js';
import { testEvents, testLogger, user } from '../support/events.js';
import { until } from '../support/wait.js';
import { uniquePrefix } from '../transport/nats/helpers.js';
import { dropAllStreams, json, runCli } from './run-cli.js';

type TestRuntime = Runtime<typeof testEvents.schemas>;

describe('bulwark CLI against a runtime on NATS', () => {
  const url = inject('natsUrl');
  let prefix = '';
  let rt: TestRuntime | undefined;
  const cli = (...args: string[]) => runCli([...args, '--prefix', prefix], { NATS_URL: url });

  async function start(service = 'accounts'): Promise<TestRuntime> {
    prefix = uniquePrefix();
    rt = await createRuntime({
      service,
      events: testEvents,
      transport: natsTransport({ servers: url, prefix }),
      logger: testLogger,
      handleSignals: false,
    });
    return rt;
  }

  afterEach(async () => {
    await rt?.shutdown();
    rt = undefined;
    await dropAllStreams(url, prefix);
  });

  it('dlq ls shows dead letters; dlq redrive moves them back and they are handled', async () => {
    const r = await start();
    let fixed = false;
    const handled: string[] = [];
    const sub = r.subscribe(
      'user.created',
      (u) => {
        if (!fixed) throw new Error('template missing');
        handled.push(u.username);
      },
      { group: 'mailer', maxAttempts: 1 },
    );
    await sub.ready;
    await r.publish('user.created', user('1', 'ada'));
    await r.publish('user.created', user('2', 'grace'));
    await until(() => sub.stats().deadLettered === 2, 'two dead letters');

    const listed = json<DeadLetter[]>(await cli('dlq', 'ls', '--json'));
    expect(listed.map((d) => [d.group, d.reason, d.error.message])).toEqual([
      ['mailer', 'handler', 'template missing'],
      ['mailer', 'handler', 'template missing'],
    ]);
    const refused = await cli('dlq', 'redrive');
    expect(refused.code).toBe(1);
    expect(refused.stderr.trim().split('\n')).toHaveLength(1);

    fixed = true;
    const run = await cli('dlq', 'redrive', '--group', 'mailer', '--json');
    expect(run.code).toBe(0);
    expect(json(run)).toEqual({ redriven: 2 });
    await until(() => handled.length === 2, 'redriven events handled');
    expect(handled.sort()).toEqual(['ada', 'grace']);
    expect(await r.deadLetters.count()).toBe(0);
  });

  it('health --json matches rt.health.report()', async () => {
    const r = await start();
    const server = await r.listen();
    const run = await runCli(['health', '--url', server.url, '--json']);
    expect(run.code).toBe(0);
    const got = json<Awaited<ReturnType<TestRuntime['health']['report']>>>(run);
    const want = await r.health.report();
    const stable = (rep: typeof want) => ({
      status: rep.status,
      service: rep.service,
      version: rep.version,
      instance: rep.instance,
      checks: Object.fromEntries(Object.entries(rep.checks).map(([k, c]) => [k, [c.status, c.critical]])),
      services: rep.services,
      circuitBreakers: rep.circuitBreakers,
      actors: rep.actors,
    });
    expect(stable(got)).toEqual(stable(want));
    const text = await runCli(['health', '--url', server.url]);
    expect(text.stdout).toContain(`accounts 0.0.0 (${want.instance}) is ${want.status}`);
  });

  it('health --service asks every live instance over NATS discovery', async () => {
    prefix = uniquePrefix();
    const service = `svc_${randomBytes(4).toString('hex')}`;
    // The NATS transport with presence on a side connection, as the runtime advertises once it is wired.
    const side = await connect({ servers: url });
    const inner = natsTransport({ servers: url, prefix });
    const transport = Object.assign(Object.create(inner) as Transport, {
      presence: () => natsPresence(side, prefix),
    });
    rt = await createRuntime({
      service,
      events: testEvents,
      transport,
      logger: testLogger,
      handleSignals: false,
    });
    try {
      const want = await rt.health.report();
      const run = await runCli(['health', '--service', service, '--json'], { NATS_URL: url });
      expect(json(run)).toEqual([
        expect.objectContaining({
          name: service,
          id: want.instance,
          version: '0.0.0',
          health: expect.objectContaining({ status: want.status }) as unknown,
        }),
      ]);
      const text = await runCli(['health', '--service', service], { NATS_URL: url });
      expect(text.stdout).toContain(`${want.status.padEnd(9)} ${want.instance}`);
      const none = await runCli(['health', '--service', 'nobody_here'], { NATS_URL: url });
      expect(none.code).toBe(1);
      expect(none.stderr).toMatch(/^bulwark: no live instance of "nobody_here"/);
    } finally {
      await rt.shutdown();
      await side.close();
    }
  });

  it('replay re-delivers a range of the stream to one group only', async () => {
    const r = await start();
    const seen = { a: [] as string[], b: [] as string[] };
    const a = r.subscribe('user.created', (u) => void seen.a.push(u.id), { group: 'a' });
    const b = r.subscribe('user.created', (u) => void seen.b.push(u.id), { group: 'b' });
    await Promise.all([a.ready, b.ready]);
    const receipts = [];
    for (const id of ['1', '2', '3']) receipts.push(await r.publish('user.created', user(id)));
    await until(() => seen.a.length === 3 && seen.b.length === 3, 'first deliveries');
    const [, second, third] = receipts;
    const run = await cli(
      'replay',
      '--type',
      'user.created',
      '--group',
      'a',
      '--from-seq',
      String(second!.seq),
      '--json',
    );
    expect(json(run)).toEqual({ replayed: 2, firstSeq: second!.seq, lastSeq: third!.seq });
    await until(() => seen.a.length === 5, 'replayed deliveries');
    await until(() => b.stats().skipped === 2, 'group b skipping the replay');
    expect(seen.a).toEqual(['1', '2', '3', '2', '3']);
    expect(seen.b).toEqual(['1', '2', '3']);
  });

  it('breakers lists shared breakers and forces them open and back', async () => {
    const service = `svc${randomBytes(4).toString('hex')}`;
    const r = await start(service);
    const stripe = r.breaker('stripe', { shared: true });
    await stripe.ready;
    stripe.close(); // a manual write puts the key in the bucket
    stripe.reset();
    const key = `${service}.stripe`;
    await until(() => stripe.stats().state === 'CLOSED' && !stripe.stats().forced, 'reset');
    const listed = json<{ key: string; state: string }[]>(
      await cli('breakers', '--service', service, '--json'),
    );
    expect(listed).toEqual([expect.objectContaining({ key, state: 'CLOSED' })]);

    expect((await cli('breakers', 'open', key)).code).toBe(0);
    await until(
      () => stripe.stats().state === 'OPEN' && stripe.stats().forced === true,
      'forced open by the CLI',
    );
    expect((await cli('breakers', 'reset', key)).code).toBe(0);
    await until(() => stripe.stats().state === 'CLOSED' && !stripe.stats().forced, 'reset by the CLI');
    const missing = await cli('breakers', 'open', `${service}.nope`);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^bulwark: no shared breaker/);
  });

  it('jobs counts, show, and retry of a dead job', async () => {
    const r = await start();
    let fixed = false;
    const emails = r.queue<{ to: string }>('emails', { maxAttempts: 1 });
    emails.process((job) => {
      if (!fixed) throw new Error('smtp down');
      return job.data.to;
    });
    const { id } = await emails.add('welcome', { to: 'ada@example.com' });
    await expect.poll(async () => (await emails.counts()).dead, { timeout: 10_000 }).toBe(1);
    expect(json<{ dead: number }>(await cli('jobs', 'counts', 'emails', '--json')).dead).toBe(1);
    const shown = json<{ id: string; state: string }>(await cli('jobs', 'show', 'emails', id, '--json'));
    expect(shown).toMatchObject({ id, state: 'dead' });
    fixed = true;
    const retried = json<{ retried: { from: string; to: string }[] }>(
      await cli('jobs', 'retry', 'emails', '--all', '--json'),
    );
    expect(retried.retried).toHaveLength(1);
    await expect
      .poll(async () => (await emails.getJob(retried.retried[0]!.to))?.state, { timeout: 10_000 })
      .toBe('completed');
  });

  it('a prefix or queue with no streams is an error that creates none', async () => {
    const r = await start();
    r.queue('emails');
    const typo = `${prefix}x`;
    const dlq = await runCli(['dlq', 'ls', '--prefix', typo], { NATS_URL: url });
    expect(dlq.code).toBe(1);
    expect(dlq.stderr).toMatch(/^bulwark: nothing to read at .*: no stream .*_EVENTS under prefix "/);
    expect(dlq.stderr).not.toMatch(/provision/);
    const jobs = await cli('jobs', 'counts', 'emial');
    expect(jobs.code).toBe(1);
    expect(jobs.stderr).toMatch(/^bulwark: no queue "emial" under prefix "/);
    const nc = await connect({ servers: url });
    const jsm = await jetstreamManager(nc);
    const names: string[] = [];
    for await (const info of jsm.streams.list()) names.push(info.config.name);
    await nc.close();
    expect(names.filter((n) => n.startsWith(typo.toUpperCase()) || n.endsWith('_Q_emial'))).toEqual([]);
    expect((await cli('jobs', 'counts', 'emails')).code).toBe(0);
  });
});

describe('bulwark CLI arguments', () => {
  it('bad arguments print the usage and exit 2', async () => {
    const runs = await Promise.all([
      runCli(['dlq', 'ls', '--bogus']),
      runCli(['replay', '--type', 'user.created', '--group', 'a', '--from-seq', 'abc']),
      runCli(['nope']),
    ]);
    for (const run of runs) {
      expect(run.code).toBe(2);
      expect(run.stderr).toMatch(/error: /);
      expect(run.stderr).toMatch(/Usage: bulwark/);
    }
  });

  it('an unreachable server is one line and exit 1', async () => {
    const [nats, http] = await Promise.all([
      runCli(['dlq', 'ls'], { NATS_URL: 'nats://127.0.0.1:1' }),
      runCli(['health', '--url', 'http://127.0.0.1:1']),
    ]);
    for (const run of [nats, http]) {
      expect(run.code).toBe(1);
      expect(run.stderr.trim().split('\n')).toHaveLength(1);
      expect(run.stderr).toMatch(/^bulwark: cannot reach/);
    }
  });
});

describe('bulwark demo --keep', () => {
  it('leaves the dashboard up, prints its address, and exits 0 on Ctrl-C', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'demo', '--keep'], {
      env: { ...process.env, NO_COLOR: '1', BULWARK_ADMIN_TOKEN: 'demo-token' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    const address = new Promise<string>((resolve) =>
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /dashboard: (http:\/\/\S+)/.exec(out);
        if (m) resolve(m[1]!);
      }),
    );
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    const url = await address;
    const page = await fetch(url);
    expect(page.status).toBe(200);
    expect(await page.text()).not.toContain('demo-token');
    expect(out).not.toContain('demo-token');
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(out).toMatch(/done in \d+ ms/);
  });
});
