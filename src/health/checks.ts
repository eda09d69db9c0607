import { getHeapStatistics } from 'node:v8';
import type { Clock } from '../time/clock.js';
import { describeError, ValidationError } from '../errors.js';
import type { Transport } from '../transport/transport.js';
import type { CheckOutcome, HealthCheck, HealthStatus } from './types.js';

/** One run of a check. */
export interface CheckRun {
  readonly status: HealthStatus;
  readonly message: string;
  readonly responseTime: number;
}

/**
 * Runs a check against its timeout; a throw, a rejection or the timeout is UNHEALTHY with the reason.
 * @returns the check's status, message and how long it took
 */
export async function runCheck(check: HealthCheck, clock: Clock): Promise<CheckRun> {
  const started = clock.now();
  const timeoutMs = check.timeoutMs ?? 5_000;
  let timer: unknown;
  const timeout = new Promise<CheckOutcome>((resolve) => {
    timer = clock.setTimeout(
      () => resolve({ healthy: false, message: `check timed out after ${timeoutMs} ms` }),
      timeoutMs,
    );
  });
  let outcome: CheckOutcome;
  try {
    outcome = await Promise.race([Promise.resolve().then(check.check), timeout]);
  } catch (err) {
    outcome = { healthy: false, message: describeError(err).message };
  } finally {
    clock.clearTimeout(timer);
  }
  return {
    status: outcome.status ?? (outcome.healthy ? 'HEALTHY' : 'UNHEALTHY'),
    message: outcome.message ?? (outcome.healthy ? 'ok' : 'failed'),
    responseTime: clock.now() - started,
  };
}

/** Options of {@link transportCheck}. */
export interface TransportCheckOptions {
  /** Publishes not stored for longer than this make the check UNHEALTHY (DEGRADED before). @default 30_000 */
  readonly unhealthyAfterMs?: number;
}

/**
 * Whether publishes are being stored, as users feel it (not whether a socket is open): critical;
 * DEGRADED as soon as the broker stops storing them (unreachable, frozen, no stream leader, the
 * outbox waiting), UNHEALTHY once that lasts `unhealthyAfterMs`.
 */
export function transportCheck(transport: Transport, opts: TransportCheckOptions = {}): HealthCheck {
  const unhealthyAfterMs = opts.unhealthyAfterMs ?? 30_000;
  return {
    name: 'transport',
    critical: true,
    check: () => {
      const s = transport.status();
      const where = s.server ? ` to ${s.server}` : '';
      const outbox = s.outboxSize ? `, ${s.outboxSize} in outbox` : '';
      const notices = s.notices?.length ? `; ${s.notices.join('; ')}` : '';
      if (s.storing) return { healthy: true, message: `${s.kind} ${s.state}${where}${outbox}${notices}` };
      // The transport measures the outage on its own clock; the health clock may be another one.
      const forMs = Math.max(0, s.notStoringForMs ?? 0);
      const status = forMs >= unhealthyAfterMs ? 'UNHEALTHY' : 'DEGRADED';
      const why = s.reason ?? s.state;
      return {
        healthy: false,
        status,
        message: `${s.kind}: events not stored for ${Math.round(forMs / 1_000)} s (${why})${outbox}${notices}`,
      };
    },
  };
}

/** Options of {@link eventLoopCheck}. */
export interface EventLoopCheckOptions {
  /** p99 event-loop delay above which the check is DEGRADED. @default 200 */
  readonly maxLagMs?: number;
  /**
   * How often the loop's delay is sampled; each sample wakes the process. A block is seen as at
   * least its length less this, so the default sees every block longer than 1.5 × `maxLagMs`.
   * @default half of `maxLagMs`, between 10 and 100
   */
  readonly resolutionMs?: number;
}

/** Samples kept between two runs of the check: a check that is never run costs bounded memory. */
const MAX_LAG_SAMPLES = 10_000;

/**
 * How late a timer due every `resolution` ms fires: the delay the loop adds to everything it
 * schedules. Node's `monitorEventLoopDelay` records the interval itself with the delay (its samples
 * sit at the resolution on an idle loop) and misses blocks once sampled as coarsely as an idle
 * service can afford (its default 10 ms wakes a process 100 times a second).
 */
class LagProbe {
  private samples: number[] = [];
  private due: number;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly resolution: number) {
    this.due = performance.now() + resolution;
    this.timer = setTimeout(this.tick, resolution);
    this.timer.unref();
  }

  private readonly tick = (): void => {
    const now = performance.now();
    if (this.samples.length < MAX_LAG_SAMPLES) this.samples.push(Math.max(0, now - this.due));
    this.due = now + this.resolution;
    this.timer.refresh();
  };

  /** @returns the p99 delay (ms) since the last call, 0 without samples */
  takeP99(): number {
    const samples = this.samples.sort((a, b) => a - b);
    this.samples = [];
    return samples[Math.min(samples.length - 1, Math.floor(samples.length * 0.99))] ?? 0;
  }

  stop(): void {
    clearTimeout(this.timer);
  }
}

/**
 * Event-loop lag over the last interval (p99 of how late a sampling timer fired): optional,
 * DEGRADED when high.
 * @returns the check, and `stop()` that ends the sampling
 */
export function eventLoopCheck(opts: EventLoopCheckOptions = {}): HealthCheck & { stop(): void } {
  const maxLagMs = opts.maxLagMs ?? 200;
  const resolution = Math.max(1, Math.round(opts.resolutionMs ?? Math.min(100, Math.max(10, maxLagMs / 2))));
  let probe: LagProbe | undefined;
  return {
    name: 'event-loop',
    critical: false,
    check: () => {
      if (!probe) {
        probe = new LagProbe(resolution);
        return { healthy: true, message: 'measuring' };
      }
      const p99 = probe.takeP99();
      return { healthy: p99 <= maxLagMs, message: `p99 lag ${p99.toFixed(1)} ms (max ${maxLagMs} ms)` };
    },
    stop: () => probe?.stop(),
  };
}

/** Options of {@link memoryCheck}. */
export interface MemoryCheckOptions {
  /** Heap in use over V8's heap limit above which the check fails. @default 0.9 */
  readonly maxHeapRatio?: number;
  /** @default false (a failure makes the service DEGRADED) */
  readonly critical?: boolean;
}

/**
 * Heap in use against V8's limit: optional, DEGRADED above `maxHeapRatio`.
 * @returns the check, named `memory`
 * @throws {ValidationError} when `maxHeapRatio` is not in (0, 1]
 * @example
 * rt.health.register(memoryCheck({ maxHeapRatio: 0.8 })); // replaces the built-in `memory` check
 */
export function memoryCheck(opts: MemoryCheckOptions = {}): HealthCheck {
  const maxHeapRatio = opts.maxHeapRatio ?? 0.9;
  if (!(maxHeapRatio > 0 && maxHeapRatio <= 1))
    throw new ValidationError(`maxHeapRatio must be in (0, 1], got ${maxHeapRatio}`);
  return {
    name: 'memory',
    critical: opts.critical ?? false,
    check: () => {
      const { used_heap_size: used, heap_size_limit: limit } = getHeapStatistics();
      const ratio = used / limit;
      const mb = (n: number) => `${Math.round(n / 2 ** 20)} MiB`;
      const pct = `${Math.round(ratio * 100)}% (max ${Math.round(maxHeapRatio * 100)}%)`;
      return { healthy: ratio <= maxHeapRatio, message: `heap ${mb(used)} of ${mb(limit)}, ${pct}` };
    },
  };
}

/** Options of {@link envCheck}. */
export interface EnvCheckOptions {
  /** @default true (a service without its configuration cannot work) */
  readonly critical?: boolean;
  /** Where the variables are read. @default process.env */
  readonly env?: NodeJS.ProcessEnv;
}

/**
 * Whether every variable in `vars` is set and not empty; the message names the missing ones,
 * never a value.
 * @returns the check, named `name`
 * @example
 * rt.health.register(envCheck('config', ['DATABASE_URL', 'STRIPE_KEY']));
 */
export function envCheck(name: string, vars: readonly string[], opts: EnvCheckOptions = {}): HealthCheck {
  return {
    name,
    critical: opts.critical ?? true,
    check: () => {
      const env = opts.env ?? process.env;
      const missing = vars.filter((v) => !env[v]);
      return missing.length
        ? { healthy: false, message: `missing ${missing.join(', ')}` }
        : { healthy: true, message: `${vars.length} set` };
    },
  };
}

/** Options of {@link httpCheck}. */
export interface HttpCheckOptions {
  /** The request is aborted, and the check UNHEALTHY, after this long. @default 2_000 */
  readonly timeoutMs?: number;
  /** @default false (a failure makes the service DEGRADED) */
  readonly critical?: boolean;
  /** The status codes that count as healthy. @default any 2xx */
  readonly expectStatus?: number | readonly number[];
  /** Sent with the request (an `authorization`, a `user-agent`). @default none */
  readonly headers?: Readonly<Record<string, string>>;
}

function expected(status: number, expect: HttpCheckOptions['expectStatus']): boolean {
  if (expect === undefined) return status >= 200 && status < 300;
  return typeof expect === 'number' ? status === expect : expect.includes(status);
}

/**
 * A GET of `url`: HEALTHY when it answers with an expected status within `timeoutMs`; a refused
 * connection, another status or the timeout is UNHEALTHY, with the reason. The body is not read.
 * @returns the check, named `name` (a breaker with `healthCheck: name` follows it)
 * @example
 * rt.health.register(httpCheck('stripe-api', 'https://status.stripe.com/health', { timeoutMs: 2_000 }));
 * const stripe = rt.breaker('stripe', { healthCheck: 'stripe-api' });
 */
export function httpCheck(name: string, url: string | URL, opts: HttpCheckOptions = {}): HealthCheck {
  const timeoutMs = opts.timeoutMs ?? 2_000;
  return {
    name,
    critical: opts.critical ?? false,
    // The request's own abort says why; the monitor's timeout is only the backstop.
    timeoutMs: timeoutMs + 1_000,
    check: async () => {
      let res: Response;
      try {
        res = await fetch(url, {
          signal: AbortSignal.timeout(timeoutMs),
          ...(opts.headers && { headers: opts.headers }),
        });
      } catch (err) {
        const timedOut = err instanceof Error && err.name === 'TimeoutError';
        return {
          healthy: false,
          message: timedOut ? `no answer within ${timeoutMs} ms` : describeCause(err),
        };
      }
      await res.body?.cancel();
      const healthy = expected(res.status, opts.expectStatus);
      return { healthy, message: `HTTP ${res.status}` };
    },
  };
}

/** fetch rejects with `TypeError: fetch failed`; the reason (ECONNREFUSED, …) is its cause. */
function describeCause(err: unknown): string {
  const cause = (err as { cause?: unknown } | null)?.cause;
  return describeError(cause ?? err).message;
}
