import { Supervisor } from '../actors/supervisor/supervisor.js';
import type { Env } from '../env.js';
import { HealthMonitor } from '../health/health.js';
import { RuntimeMetrics } from '../metrics/metrics.js';
import type { Transport } from '../transport/transport.js';

/** What supervision, health and metrics are built from. */
export interface ObservabilityParts extends Env {
  readonly service: string;
  readonly version: string;
  readonly instanceId: string;
  readonly transport: Transport;
  readonly transportUnhealthyAfterMs?: number;
}

/** A runtime's supervisor, health monitor and metrics, wired to each other. */
export interface Observability {
  readonly supervisor: Supervisor;
  readonly health: HealthMonitor;
  readonly metrics: RuntimeMetrics;
}

/**
 * Builds a runtime's supervisor, health and metrics: supervisor notices feed metrics, and every
 * health report sets the health gauge.
 * @example
 * const { supervisor, health, metrics } = observe(parts);
 */
export function observe(parts: ObservabilityParts): Observability {
  const supervisor = new Supervisor({
    clock: parts.clock,
    logger: parts.logger.child({ actor: 'supervisor' }),
    ...(parts.inspect && { inspect: parts.inspect }),
  });
  const metrics = new RuntimeMetrics({
    service: parts.service,
    transportStatus: () => parts.transport.status(),
  });
  supervisor.onNotice((n) => metrics.onSupervisorNotice(n));
  const health = new HealthMonitor({ ...parts, supervisor, onReport: (r) => metrics.onHealth(r.status) });
  return { supervisor, health, metrics };
}
