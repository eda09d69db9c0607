import type { ActorReport } from '../actors/supervisor/types.js';
import { HealthStatus, type BreakerStatsLike } from './types.js';

/** How bad a status is, for taking the worst of several. */
const SEVERITY: Record<HealthStatus, number> = {
  HEALTHY: 0,
  UNKNOWN: 1,
  DEGRADED: 2,
  UNHEALTHY: 3,
};

/** @returns the worse of two statuses */
export function worst(a: HealthStatus, b: HealthStatus): HealthStatus {
  return SEVERITY[b] > SEVERITY[a] ? b : a;
}

/**
 * A check's contribution: a critical check passes its status through; an optional one can make
 * the service no worse than DEGRADED.
 */
export function checkImpact(status: HealthStatus, critical: boolean): HealthStatus {
  if (critical || status === 'HEALTHY') return status;
  return 'DEGRADED';
}

/**
 * A breaker's contribution: OPEN makes its service DEGRADED, or UNHEALTHY when the service is
 * critical; HALF_OPEN (probing) and a shared breaker running on local state are DEGRADED.
 */
export function breakerImpact(stats: BreakerStatsLike, critical: boolean): HealthStatus {
  if (stats.state === 'OPEN') return critical ? 'UNHEALTHY' : 'DEGRADED';
  if (stats.state === 'HALF_OPEN') return 'DEGRADED';
  if (stats.shared?.mode === 'local-degraded') return 'DEGRADED';
  return 'HEALTHY';
}

/**
 * A supervised actor's contribution: given up on (`failed`) is UNHEALTHY; restarting, a subscriber
 * backing off after consumer failures or holding hung handlers, or a stalled queue, is DEGRADED.
 */
export function actorImpact(actor: ActorReport): HealthStatus {
  if (actor.status === 'failed') return 'UNHEALTHY';
  // Failed but about to be restarted by the supervisor: degraded, not down.
  if (actor.status === 'restarting') return 'DEGRADED';
  if (actor.state === 'backingOff' || actor.state === 'hung' || actor.state === 'stalled') return 'DEGRADED';
  if (actor.state === 'failed') return 'UNHEALTHY';
  return 'HEALTHY';
}

/** Everything the overall status is decided from. */
export interface AggregateInput {
  readonly checks: readonly { readonly status: HealthStatus; readonly critical: boolean }[];
  readonly breakers: readonly { readonly stats: BreakerStatsLike; readonly critical: boolean }[];
  readonly actors: readonly ActorReport[];
  /** Replaces the computed status while set. */
  readonly override?: HealthStatus;
}

/**
 * The overall status: the worst contribution of every check, breaker and actor; UNKNOWN when there
 * is nothing to judge; a manual override wins.
 * @example
 * aggregate({ checks: [{ status: 'UNHEALTHY', critical: false }], breakers: [], actors: [] }); // 'DEGRADED'
 */
export function aggregate(input: AggregateInput): HealthStatus {
  if (input.override) return input.override;
  if (!input.checks.length && !input.breakers.length && !input.actors.length) return HealthStatus.unknown;
  let status: HealthStatus = HealthStatus.healthy;
  for (const c of input.checks) status = worst(status, checkImpact(c.status, c.critical));
  for (const b of input.breakers) status = worst(status, breakerImpact(b.stats, b.critical));
  for (const a of input.actors) status = worst(status, actorImpact(a));
  return status;
}
