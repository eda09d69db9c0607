// A process of its own for the delayed-jobs bench: `worker` runs a queue worker (concurrency 10) on
// a queue whose jobs all wait, `bare` only holds a NATS connection (the floor any connected Node
// process pays). Either settles, prints `start`, then `cpu <ms>` (its own user + system CPU over the
// window), and exits.
import { connect } from '@nats-io/transport-node';
import { pino } from 'pino';
import { createRuntime, defineEvents } from '../src/index.js';
import { natsTransport } from '../src/transport/nats/nats-transport.js';

const [servers, prefix, mode, queue, windowMs, settleMs] = process.argv.slice(2);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function open(): Promise<() => Promise<void>> {
  if (mode === 'bare') {
    const nc = await connect({ servers: servers! });
    return () => nc.close();
  }
  const rt = await createRuntime({
    service: 'idle-worker',
    events: defineEvents({}),
    logger: pino({ level: 'silent' }),
    transport: natsTransport({ servers: servers!, prefix: prefix! }),
  });
  const q = rt.queue(queue!, { concurrency: 10 });
  q.process(() => undefined);
  await q.ready();
  return () => rt.shutdown();
}

const close = await open();
// Start-up work (module loading, first pulls, the first due scan) is not idling.
await sleep(Number(settleMs));
process.stdout.write('start\n');
const before = process.cpuUsage();
await sleep(Number(windowMs));
const { user, system } = process.cpuUsage(before);
process.stdout.write(`cpu ${(user + system) / 1_000}\n`);
await close();
process.exit(0);
