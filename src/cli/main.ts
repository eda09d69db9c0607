#!/usr/bin/env node
import { Command } from 'commander';
import { runDemo } from './demo.js';

const program = new Command()
  .name('bulwark')
  .description('Operate bulwark runtimes: demo, health, dead letters, breakers, jobs')
  .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2));

program
  .command('demo')
  .description('a scripted tour of the runtime on the embedded transport')
  .action(async () => {
    await runDemo();
  });

program.parseAsync(process.argv).catch((err: unknown) => {
  console.error(`bulwark: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
