import type { Runtime } from '../../../src/runtime/runtime.js';
import { fixed } from '../../../src/retry/backoff.js';
import type { testEvents } from '../../support/events.js';
import { cacheWarmer } from '../../support/machines.js';
import { deferred, poll, until } from '../../support/wait.js';

const down = () => Promise.reject(new Error('502 Bad Gateway'));

/**
 * Fills a runtime with something of everything the dashboard shows (the README's screenshot):
 * breakers in each state, services and checks, subscribers, queues (one paused, one with job
 * schedulers, one with jobs in progress), dead letters and a spawned machine.
 */
export async function tour(rt: Runtime<typeof testEvents.schemas>): Promise<void> {
  const payments = rt.breaker('payments', { failureThreshold: 3, resetTimeoutMs: 60_000 });
  const search = rt.breaker('search', { failureThreshold: 0.5, minimumRequests: 4 });
  const geocoder = rt.breaker('geocoder', { failureThreshold: 2, resetTimeoutMs: 1 });
  rt.health.registerService({ id: 'payments-api', name: 'Payments API', circuitBreaker: payments });
  rt.health.registerService({ id: 'search', name: 'Search cluster', circuitBreaker: search });
  rt.health.registerService({ id: 'geocoder', name: 'Geocoder', circuitBreaker: geocoder });
  rt.health.register({
    name: 'postgres',
    critical: true,
    check: () => ({ healthy: true, message: 'ok (pool 8/20)' }),
  });
  for (let i = 0; i < 9; i++) await search.execute(() => Promise.resolve('ok'));
  await search.execute(down).catch(() => undefined);
  for (let i = 0; i < 3; i++) await payments.execute(down).catch(() => undefined);
  for (let i = 0; i < 2; i++) await geocoder.execute(down).catch(() => undefined);
  await poll(
    () => Promise.resolve(geocoder.stats().state),
    (s) => s === 'HALF_OPEN',
    'geocoder half open',
  );
  const mailer = rt.subscribe(
    'user.created',
    (u) => {
      if (u.role === 'admin') throw new Error('template "welcome-admin" missing');
    },
    { group: 'mailer', maxAttempts: 2, backoff: fixed({ delayMs: 10 }) },
  );
  const rota = rt.subscribe('availability.created', () => undefined, { group: 'rota' });
  await Promise.all([mailer.ready, rota.ready]);
  for (const [i, name] of ['ada', 'grace', 'mallory', 'trent'].entries())
    await rt.publish('user.created', { id: String(i), username: name, role: i >= 2 ? 'admin' : 'user' });
  const emails = rt.queue<{ to: string }>('emails', { maxAttempts: 1 });
  emails.process((job) => {
    if (job.data.to.startsWith('bounce')) throw new Error('mailbox unavailable');
  });
  for (const to of ['ada', 'grace', 'bounce', 'trent', 'mallory'])
    await emails.add('welcome', { to: `${to}@example.com` });
  await emails.add('digest', { to: 'later@example.com' }, { delayMs: 600_000 });
  await poll(
    () => rt.deadLetters.count(),
    (n) => n === 3,
    'three dead letters',
  );
  await poll(
    () => emails.counts(),
    (c) => c.completed === 4,
    'four jobs done',
  );
  await emails.repeat(
    'weekly-digest',
    { to: 'subscribers@example.com' },
    { cron: '0 7 * * MON', tz: 'Europe/Berlin' },
  );
  await emails.repeat('bounce-sweep', { to: 'postmaster@example.com' }, { everyMs: 900_000 });
  await jobsInProgress(rt);
  rt.spawn(cacheWarmer(), { id: 'cache-warmer' }).send({ type: 'warmed' });
}

/**
 * Two invoices rendering (at 35 % and 80 %) until the runtime shuts down, and a paused exports
 * queue with jobs waiting.
 */
async function jobsInProgress(rt: Runtime<typeof testEvents.schemas>): Promise<void> {
  const shutdown = deferred();
  rt.onShutdown(async () => shutdown.resolve(), 'intake', 'tour jobs');
  const invoices = rt.queue<{ pct: number }>('invoices', { concurrency: 2 });
  const reported = new Set<string>();
  invoices.process(async (job) => {
    await job.progress(job.data.pct);
    reported.add(job.id);
    await shutdown.promise;
  });
  for (const pct of [35, 80]) await invoices.add('render-pdf', { pct });
  const exports = rt.queue('exports');
  await exports.pause();
  for (const month of ['2026-09', '2026-10', '2026-11']) await exports.add('ledger-csv', { month });
  await until(() => reported.size === 2, 'two invoices rendering');
}
