import { randomBytes } from 'node:crypto';
import type { DemoRuntime } from './demo.js';
import { paint } from './output.js';

/** Options of {@link keepDashboard}. */
export interface KeepOptions {
  /** @default 0 (any free port) */
  readonly port?: number;
  readonly print: (line: string) => void;
}

function stopSignal(): Promise<void> {
  return new Promise((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
}

/**
 * `demo --keep`: serves the dashboard of the demo's runtime and keeps a little traffic going (a
 * user every few seconds, the payments API going down and up again) until Ctrl-C.
 * The admin token is `BULWARK_ADMIN_TOKEN`, or a fresh one printed once on the terminal.
 */
export async function keepDashboard(rt: DemoRuntime, o: KeepOptions): Promise<void> {
  const given = process.env.BULWARK_ADMIN_TOKEN;
  const adminToken = given || randomBytes(18).toString('base64url');
  const server = await rt.listen({ port: o.port ?? 0, adminToken });
  o.print(paint('bold', `\ndashboard: ${server.url}/dashboard`) + '   (Ctrl-C to stop)');
  if (!given) o.print(`admin token for redrive and breaker actions: ${adminToken}`);
  const payments = rt.breaker('payments');
  rt.health.registerService({
    id: 'payments-api',
    name: 'Payments API',
    circuitBreaker: payments,
    tags: ['api'],
  });
  const emails = rt.queue<{ to: string }>('emails', { concurrency: 2, maxAttempts: 2 });
  emails.process(async (job) => {
    await new Promise((resolve) => setTimeout(resolve, 300));
    if (job.data.to.startsWith('bounce')) throw new Error('mailbox unavailable');
  });
  let n = 0;
  const traffic = setInterval(() => {
    n++;
    const role = n % 5 === 0 ? 'admin' : 'user';
    rt.publish('user.created', { id: `k${n}`, username: n % 7 === 0 ? 'mallory' : `user${n}`, role }).catch(
      () => undefined,
    );
    emails
      .add('welcome', { to: n % 4 === 0 ? `bounce${n}@example.com` : `user${n}@example.com` })
      .catch(() => undefined);
    const apiUp = Math.floor(n / 6) % 2 === 0;
    for (let i = 0; i < 3; i++)
      payments
        .execute((signal) =>
          apiUp
            ? Promise.resolve('charged')
            : new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))),
        )
        .catch(() => undefined);
  }, 1_500);
  await stopSignal();
  clearInterval(traffic);
}
