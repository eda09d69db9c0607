#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { breakersCommand } from './breakers.js';
import { callCommand } from './call.js';
import { endpointsCommand } from './endpoints.js';
import { demoCommand } from './demo-command.js';
import { dlqCommand } from './dlq.js';
import { healthCommand } from './health.js';
import { jobsCommand } from './jobs.js';
import { replayCommand } from './replay.js';

// Settings made before the commands are added are inherited by every subcommand: a bad argument
// anywhere prints the usage and exits 2.
// package.json sits two levels up from src/cli and from dist/cli alike.
const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

const program = new Command()
  .name('bulwark')
  .version(version, '-V, --version', 'print the version of bulwark')
  .description(
    'Operate bulwark runtimes: demo, health, dead letters, replay, breakers, jobs, endpoints. NATS_URL selects the broker.',
  )
  .showHelpAfterError()
  .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2));

demoCommand(program);
healthCommand(program);
dlqCommand(program);
replayCommand(program);
breakersCommand(program);
jobsCommand(program);
callCommand(program);
endpointsCommand(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  const message = err instanceof Error ? err.message : String(err);
  console.error(`bulwark: ${message.split('\n')[0]}`);
  process.exit(1);
});
