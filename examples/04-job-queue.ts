// A job queue with priorities, a delayed job, and a failing job that ends in the dead-letter store.
// Run: npx tsx examples/04-job-queue.ts
import { createRuntime, deadLetterGroup, defineEvents, fixed } from 'bulwark';

const rt = await createRuntime({ service: 'mailer', events: defineEvents({}) });
const emails = rt.queue<{ to: string }>('emails', {
  concurrency: 1,
  maxAttempts: 3,
  backoff: fixed({ delayMs: 100 }),
});

// Added before any worker runs: the critical job is taken first, the low one last.
await emails.add('digest', { to: 'list@example.com' }, { priority: 'low' });
await emails.add('welcome', { to: 'ada@example.com' });
await emails.add('password-reset', { to: 'grace@example.com' }, { priority: 'critical' });
await emails.add('reminder', { to: 'alan@example.com' }, { delayMs: 500 });
await emails.add('bounce', { to: 'nobody@invalid' });

const settled = new Promise<void>((resolve) => {
  let n = 0;
  const done = () => void (++n === 5 && resolve());
  emails.on('completed', (job) => (console.log(`completed ${job.name} → ${job.data.to}`), done()));
  emails.on('failed', (job) =>
    console.log(`failed ${job.name} (try ${job.attempts}): ${job.error?.message}`),
  );
  emails.on('dead', (job) => (console.log(`dead ${job.name} after ${job.attempts} tries`), done()));
});

emails.process(async (job) => {
  if (job.data.to.endsWith('@invalid')) throw new Error(`no such mailbox: ${job.data.to}`);
  return { delivered: job.data.to };
});

await settled;
const [dead] = await rt.deadLetters.list({ group: deadLetterGroup('emails') });
console.log('dead letter:', dead?.event.type, dead?.reason, dead?.error.message);
console.log('counts:', await emails.counts());
await rt.shutdown();
