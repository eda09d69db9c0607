import { styleText } from 'node:util';
import { z } from 'zod';
import { pino } from 'pino';
import { isValidationError } from '../errors.js';
import { defineEvents } from '../events/registry.js';
import { exponential, fixed } from '../retry/backoff.js';
import { createRuntime } from '../runtime/create-runtime.js';
import type { Runtime } from '../runtime/runtime.js';
import { memoryTransport } from '../transport/memory/memory-transport.js';
import type { Transport } from '../transport/transport.js';

/** Options of {@link runDemo}. */
export interface DemoOptions {
  /** @default the embedded memory transport */
  transport?: Transport;
  /** Where the narration goes. @default console.log */
  print?: (line: string) => void;
  /** Runs before the shutdown step and holds it until it resolves (`demo --keep` serves the dashboard here). */
  keep?: (rt: DemoRuntime) => Promise<void>;
}

const events = defineEvents({
  'user.created': z.object({ id: z.string(), username: z.string(), role: z.enum(['user', 'admin']) }),
  'availability.created': z.object({ staffId: z.string(), day: z.string() }),
});

/** The demo's runtime, as `keep` receives it. */
export type DemoRuntime = Runtime<typeof events.schemas>;

const step = (n: number, text: string) => styleText('bold', `\n${n}. ${text}`);
const ok = (text: string) => `   ${styleText('green', '✓')} ${text}`;
const warn = (text: string) => `   ${styleText('yellow', '↻')} ${text}`;
const bad = (text: string) => `   ${styleText('red', '✗')} ${text}`;

function waitFor(cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const check = (): void => {
      if (cond()) return resolve();
      if (Date.now() > deadline) return reject(new Error('demo step timed out'));
      setTimeout(check, 10);
    };
    check();
  });
}

/**
 * A scripted tour of the runtime: events flowing, a handler failing and retried with backoff,
 * a poison event dead-lettered with its reason and redriven, a batch subscriber, a circuit breaker
 * opening and closing again, and a clean shutdown.
 * @returns what happened, for tests
 */
export async function runDemo(
  options: DemoOptions = {},
): Promise<{ handled: number; deadLettered: number; batches: number; breakerTimeouts: number }> {
  const print = options.print ?? ((line: string) => console.log(line));
  const logger = pino({ level: process.env.LOG_LEVEL ?? 'silent' });
  const rt = await createRuntime({
    service: 'accounts',
    events,
    logger,
    transport: options.transport ?? memoryTransport(),
  });
  const t0 = performance.now();
  const at = () => styleText('dim', `+${Math.round(performance.now() - t0)}ms`);
  print(styleText('bold', `bulwark demo — service "accounts" on the ${rt.transport.kind} transport`));

  let mailerBroken = true;
  const welcomed: string[] = [];
  print(step(1, 'A mailer subscriber (group "mailer", 3 attempts, exponential backoff from 100 ms)'));
  const mailer = rt.subscribe(
    'user.created',
    async (user, meta) => {
      if (user.username === 'flaky' && meta.attempt < 3) {
        print(
          warn(
            `${at()} mailer: attempt ${meta.attempt} for "${user.username}" failed (SMTP timeout), will retry`,
          ),
        );
        throw new Error('SMTP timeout');
      }
      if (user.username === 'mallory' && mailerBroken) {
        print(
          bad(`${at()} mailer: attempt ${meta.attempt} for "${user.username}" failed (template missing)`),
        );
        throw new Error('template "welcome-admin" missing');
      }
      welcomed.push(user.username);
      print(ok(`${at()} mailer: welcomed ${user.username} (attempt ${meta.attempt})`));
    },
    {
      group: 'mailer',
      maxAttempts: 3,
      backoff: exponential({ initialMs: 100, maxMs: 1_000, jitter: 'none' }),
    },
  );
  await mailer.ready;

  print(step(2, 'Publishing typed, validated events'));
  for (const username of ['ada', 'grace', 'flaky', 'mallory']) {
    const role = username === 'mallory' ? 'admin' : 'user';
    const receipt = await rt.publish('user.created', { id: username, username, role });
    print(`   published user.created ${styleText('dim', receipt.id)} (${username})`);
  }
  try {
    await rt.publish('user.created', { id: 42, username: 'bob', role: 'root' } as never);
  } catch (err) {
    if (!isValidationError(err)) throw err;
    const issues = err.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    print(bad(`refused at publish, nothing sent: ValidationError — ${issues}`));
  }

  print(step(3, 'Retries with backoff, and a poison event dead-lettered'));
  await waitFor(() => welcomed.length === 3 && mailer.stats().deadLettered === 1);
  const [dead] = await rt.deadLetters.list();
  if (dead)
    print(
      bad(
        `dead letter: ${dead.event.type} "${(dead.event.data as { username: string }).username}" — reason ${dead.reason}, ${dead.error.name}: ${dead.error.message}, after ${dead.attempts} attempts (group ${dead.group})`,
      ),
    );

  print(step(4, 'Fixing the template and redriving the dead letter to its group'));
  mailerBroken = false;
  const { redriven } = await rt.deadLetters.redrive({ type: 'user.created' });
  print(`   redriven: ${redriven}`);
  await waitFor(() => welcomed.includes('mallory'));

  print(step(5, 'A batch subscriber (batches of 5, or whatever arrived after 200 ms)'));
  const batches: number[] = [];
  const rota = rt.subscribeBatch(
    'availability.created',
    (slots) => {
      batches.push(slots.length);
      print(
        ok(`${at()} rota: stored a batch of ${slots.length} (${slots.map((s) => s.staffId).join(', ')})`),
      );
    },
    { group: 'rota', batchSize: 5, batchTimeoutMs: 200, backoff: fixed({ delayMs: 100 }) },
  );
  await rota.ready;
  await rt.publishMany(
    Array.from({ length: 7 }, (_, i) => ({
      type: 'availability.created' as const,
      payload: { staffId: `s${i + 1}`, day: '2026-11-23' },
    })),
  );
  await waitFor(() => batches.reduce((a, b) => a + b, 0) === 7);

  print(step(6, 'A circuit breaker around a failing payments API, with a fallback'));
  const payments = rt.breaker('payments', {
    failureThreshold: 3,
    resetTimeoutMs: 150,
    timeoutMs: 50,
    fallback: () => 'queued for later',
  });
  payments.on('stateChange', ({ from, to }) => print(warn(`${at()} breaker "payments": ${from} -> ${to}`)));
  let apiUp = false;
  const charge = (signal: AbortSignal) =>
    apiUp
      ? Promise.resolve('charged')
      : new Promise<string>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)));
  for (let i = 1; i <= 5; i++) print(`   call ${i}: ${await payments.execute(charge)}`);
  apiUp = true;
  await new Promise((r) => setTimeout(r, 200));
  print(`   call 6: ${await payments.execute(charge)}`);
  print(ok(`breaker stats: ${JSON.stringify(rt.breakers.stats().payments)}`));
  const breakerTimeouts = payments.stats().timeoutCount;

  if (options.keep) await options.keep(rt);

  print(step(7, 'Graceful shutdown: drain in-flight handlers, close the transport'));
  const stats = mailer.stats();
  await rt.shutdown();
  print(
    ok(
      `mailer: ${stats.received} deliveries, ${stats.handled} handled, ${stats.retried} retried, ${stats.deadLettered} dead-lettered`,
    ),
  );
  print(ok(`rota: ${batches.length} batches (${batches.join(' + ')} events)`));
  print(styleText('bold', `\ndone in ${Math.round(performance.now() - t0)} ms`));
  return {
    handled: stats.handled,
    deadLettered: stats.deadLettered,
    batches: batches.length,
    breakerTimeouts,
  };
}
