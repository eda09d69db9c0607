// Two services talking over NATS JetStream: durable delivery, competing consumers, dead letters, replay.
// Run against a server with JetStream: NATS_URL=nats://127.0.0.1:4222 npx tsx examples/03-nats-jetstream.ts
import { pino } from 'pino';
import { z } from 'zod';
import { createRuntime, defineEvents, fixed, natsTransport } from 'bulwark';
import { dropPrefix } from 'bulwark/nats';

const events = defineEvents({
  'invoice.issued': z.object({ invoiceId: z.string(), cents: z.number().int().nonnegative() }),
});
const servers = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const prefix = `example${Date.now().toString(36)}`; // streams of its own, dropped at the end
const logger = pino({ level: 'warn' });

const billing = await createRuntime({
  service: 'billing',
  events,
  logger,
  transport: natsTransport({ servers, prefix }),
});
const ledger = await createRuntime({
  service: 'ledger',
  events,
  logger,
  transport: natsTransport({ servers, prefix }),
});

// `ledger` books every invoice; an invoice of 0 cents is refused and dead-lettered after 2 tries.
const booked: string[] = [];
const sub = ledger.subscribe(
  'invoice.issued',
  (invoice, meta) => {
    if (invoice.cents === 0) throw new Error(`empty invoice ${invoice.invoiceId} (attempt ${meta.attempt})`);
    booked.push(invoice.invoiceId);
  },
  { maxAttempts: 2, backoff: fixed({ delayMs: 100 }) },
);
await sub.ready;

// `publish` resolves once JetStream has stored the event; the id doubles as the dedup key.
for (const [i, cents] of [1200, 0, 560].entries()) {
  const receipt = await billing.publish(
    'invoice.issued',
    { invoiceId: `inv-${i}`, cents },
    { id: `inv-${i}` },
  );
  console.log(`stored inv-${i} at stream sequence ${receipt.seq}`);
}
console.log(
  're-publish of inv-0 is a duplicate:',
  (await billing.publish('invoice.issued', { invoiceId: 'inv-0', cents: 1200 }, { id: 'inv-0' })).duplicate,
);

while ((await ledger.deadLetters.count()) === 0) await new Promise((r) => setTimeout(r, 50));
const [dead] = await ledger.deadLetters.list();
console.log(`booked ${booked.join(', ')}; dead letter ${dead?.event.id}: ${dead?.error.message}`);

// A new group replays the stream from its first sequence: rebuilding a read model from history.
const audit: string[] = [];
const replay = ledger.subscribe('invoice.issued', (invoice) => void audit.push(invoice.invoiceId), {
  group: 'audit-rebuild',
  from: { seq: 1 },
});
await replay.ready;
while (audit.length < 3) await new Promise((r) => setTimeout(r, 50));
console.log('replayed for audit:', audit.join(', '));

await Promise.all([billing.shutdown(), ledger.shutdown()]);
// The streams (events, dead letters) and buckets this run created under its prefix.
console.log('dropped:', (await dropPrefix({ servers, prefix })).join(', '));
