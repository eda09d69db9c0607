import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';
import type { Clock } from '../time/clock.js';
import { describeError } from '../errors.js';
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
}

/**
 * Event-loop lag over the last interval (p99 of `monitorEventLoopDelay`): optional, DEGRADED when high.
 * @returns the check, and `stop()` that disables the histogram
 */
export function eventLoopCheck(opts: EventLoopCheckOptions = {}): HealthCheck & { stop(): void } {
  const maxLagMs = opts.maxLagMs ?? 200;
  let histogram: IntervalHistogram | undefined;
  return {
    name: 'event-loop',
    critical: false,
    check: () => {
      if (!histogram) {
        histogram = monitorEventLoopDelay({ resolution: 20 });
        histogram.enable();
        return { healthy: true, message: 'measuring' };
      }
      const p99 = histogram.percentile(99) / 1e6;
      histogram.reset();
      return { healthy: p99 <= maxLagMs, message: `p99 lag ${p99.toFixed(1)} ms (max ${maxLagMs} ms)` };
    },
    stop: () => histogram?.disable(),
  };
}

/** Heap in use against V8's limit: optional, DEGRADED above `maxHeapRatio`. @default 0.9 */
export function memoryCheck(maxHeapRatio = 0.9): HealthCheck {
  return {
    name: 'memory',
    critical: false,
    check: () => {
      const { used_heap_size: used, heap_size_limit: limit } = getHeapStatistics();
      const ratio = used / limit;
      const mb = (n: number) => `${Math.round(n / 2 ** 20)} MiB`;
      return { healthy: ratio <= maxHeapRatio, message: `heap ${mb(used)} of ${mb(limit)}` };
    },
  };
}
