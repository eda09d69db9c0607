#!/usr/bin/env node
import { Command } from 'commander';
import { breakersCommand } from './breakers.js';
import { demoCommand } from './demo-command.js';
import { dlqCommand } from './dlq.js';
import { healthCommand } from './health.js';
import { jobsCommand } from './jobs.js';
import { replayCommand } from './replay.js';

// Settings made before the commands are added are inherited by every subcommand: a bad argument
// anywhere prints the usage and exits 2.
const program = new Command()
  .name('bulwark')
  .description(
    'Operate bulwark runtimes: demo, health, dead letters, replay, breakers, jobs. NATS_URL selects the broker.',
  )
  .showHelpAfterError()
  .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2));

demoCommand(program);
healthCommand(program);
dlqCommand(program);
replayCommand(program);
breakersCommand(program);
jobsCommand(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  const message = err instanceof Error ? err.message : String(err);
  console.error(`bulwark: ${message.split('\n')[0]}`);
  process.exit(1);
});
