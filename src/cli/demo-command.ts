import type { Command } from 'commander';
import { transportFromEnv } from '../runtime/create-runtime.js';
import { dropPrefix } from '../transport/nats/drop.js';
import { brokerEnv } from './broker.js';
import { positiveInt } from './parse.js';
import { runDemo, type DemoRuntime } from './demo.js';

interface DemoCliOptions {
  readonly nats?: boolean;
  readonly keep?: boolean;
  readonly port?: number;
}

/** `bulwark demo [--nats] [--keep [--port N]]`. */
export function demoCommand(program: Command): void {
  program
    .command('demo')
    .description('a scripted tour of the runtime on the embedded transport')
    .option('--nats', 'run it on NATS JetStream at NATS_URL (default nats://127.0.0.1:4222)')
    .option('--keep', 'leave the dashboard up (and some traffic going) until Ctrl-C')
    .option('--port <port>', 'with --keep: the dashboard port (default: any free one)', positiveInt)
    .action(async (o: DemoCliOptions) => {
      const print = (line: string) => console.log(line);
      const keep = o.keep
        ? async (rt: DemoRuntime) => {
            const { keepDashboard } = await import('./demo-keep.js');
            await keepDashboard(rt, { print, ...(o.port !== undefined && { port: o.port }) });
          }
        : undefined;
      if (!o.nats) return void (await runDemo({ print, ...(keep && { keep }) }));
      // Streams of its own, dropped afterwards: a demo leaves nothing on the broker.
      const prefix = `demo${Date.now().toString(36)}`;
      const env = brokerEnv(prefix);
      try {
        await runDemo({ transport: transportFromEnv(env), print, ...(keep && { keep }) });
      } finally {
        const dropped = await dropPrefix({ servers: env.NATS_URL, prefix });
        print(`   removed what the demo created on the broker: ${dropped.join(', ') || 'nothing'}`);
      }
    });
}
