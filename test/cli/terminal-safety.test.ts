import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { safe, safeJson } from '../../src/cli/output.js';
import { createRuntime } from '../../src/runtime/create-runtime.js';
import type { Runtime } from '../../src/runtime/runtime.js';
import { natsTransport } from '../../src/transport/nats/nats-transport.js';
import { testEvents, testLogger } from '../support/events.js';
import { until } from '../support/wait.js';
import { uniquePrefix } from '../transport/nats/helpers.js';
import { dropAllStreams, runCli } from './run-cli.js';

/** Clears the screen, retitles the window, rings the bell, turns text red (C1 CSI) and reverses it. */
const HOSTILE = 'mallory\u001b[2J\u001b]0;pwned\u0007\u009b31m\u202etxt.exe';
/** Anything a terminal would act on; a line feed between lines is the only control allowed. */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

describe('terminal-safe output', () => {
  it('escapes every control character in text, and what JSON leaves raw', () => {
    expect(safe(HOSTILE)).toBe('mallory\\e[2J\\e]0;pwned\\x07\\x9b31m\\u202etxt.exe');
    expect(safe('two\nlines\ttab')).toBe('two\\nlines\\ttab');
    expect(safe('plain — ünïcode ✓')).toBe('plain — ünïcode ✓');
    const json = safeJson({ name: HOSTILE }, 2);
    expect(json).not.toMatch(CONTROL);
    expect(JSON.parse(json)).toEqual({ name: HOSTILE });
  });
});

describe('bulwark dlq prints dead letters from the broker safely', () => {
  const url = inject('natsUrl');
  const prefix = uniquePrefix();
  let rt: Runtime<typeof testEvents.schemas>;
  const cli = (...args: string[]) => runCli([...args, '--prefix', prefix], { NATS_URL: url });

  beforeAll(async () => {
    rt = await createRuntime({
      service: 'accounts',
      events: testEvents,
      transport: natsTransport({ servers: url, prefix }),
      logger: testLogger,
      handleSignals: false,
    });
    const sub = rt.subscribe(
      'user.created',
      (u) => {
        throw new Error(`no template for ${u.username}`);
      },
      { group: 'mailer', maxAttempts: 1 },
    );
    await sub.ready;
    await rt.publish('user.created', { id: '1', username: HOSTILE, role: 'user' });
    await until(() => sub.stats().deadLettered === 1, 'a dead letter');
  }, 30_000);
  afterAll(async () => {
    await rt?.shutdown();
    await dropAllStreams(url, prefix);
  });

  it('ls: a header, then the row with its escape sequences shown, not run', async () => {
    const run = await cli('dlq', 'ls');
    expect(run.code).toBe(0);
    expect(run.stdout).not.toMatch(CONTROL);
    const [header, row, ...rest] = run.stdout.trimEnd().split('\n');
    expect(header).toMatch(/^ID\s+TYPE\s+GROUP\s+REASON\s+TRIES\s+FAILED AT\s+ERROR$/);
    expect(row).toContain('Error: no template for mallory\\e[2J\\e]0;pwned\\x07\\x9b31m\\u202etxt.exe');
    expect(rest).toEqual([]);
  });

  it('show and --json: the event data escaped too, and the JSON still the same data', async () => {
    const [dead] = await rt.deadLetters.list();
    const show = await cli('dlq', 'show', dead!.id);
    expect(show.code).toBe(0);
    expect(show.stdout).not.toMatch(CONTROL);
    expect(show.stdout).toContain('mallory\\u001b[2J');
    const json = await cli('dlq', 'ls', '--json');
    expect(json.stdout).not.toMatch(CONTROL);
    expect(
      (JSON.parse(json.stdout) as { event: { data: { username: string } } }[])[0]?.event.data.username,
    ).toBe(HOSTILE);
  });
});

describe('bulwark CLI usage', () => {
  it('refuses a wildcard where one event type is expected', async () => {
    const runs = await Promise.all([
      runCli(['replay', '--type', 'user.*', '--group', 'a', '--since', '1h']),
      runCli(['replay', '--type', 'user.>', '--group', 'a', '--since', '1h']),
      runCli(['dlq', 'ls', '--type', '*']),
      runCli(['dlq', 'purge', '--type', 'user..created']),
    ]);
    for (const run of runs) {
      expect(run.code).toBe(2);
      expect(run.stderr).toMatch(/argument '.*' is invalid\. expected (one|an) event type/);
    }
  });

  it('--version prints the package version', async () => {
    const { version } = (await import('../../package.json', { with: { type: 'json' } })).default;
    const [long, short] = await Promise.all([runCli(['--version']), runCli(['-V'])]);
    expect(long).toMatchObject({ code: 0, stdout: `${version}\n` });
    expect(short.stdout).toBe(`${version}\n`);
  });

  it('speaks of options the user knows, not internal ones', async () => {
    const help = await Promise.all([runCli(['jobs', 'counts', '--help']), runCli(['breakers', '--help'])]);
    for (const run of help) expect(run.stdout).not.toMatch(/ackWaitMs|provision|requireStreams|rt\.listen/);
  });
});
