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
  .option('--nats', 'run it on NATS JetStream at NATS_URL (default nats://127.0.0.1:4222)')
  .action(async (opts: { nats?: boolean }) => {
    if (!opts.nats) return void (await runDemo());
    const { natsTransport } = await import('../transport/nats/nats-transport.js');
    const servers = (process.env.NATS_URL ?? 'nats://127.0.0.1:4222').split(',');
    await runDemo({ transport: natsTransport({ servers, prefix: `demo${Date.now().toString(36)}` }) });
  });

program.parseAsync(process.argv).catch((err: unknown) => {
  console.error(`bulwark: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
