import type { ChildFailure } from '../../machines/restart-policy.machine.js';
import type { ChildHealth, Health } from '../../machines/supervisor.machine.js';
import type { ChildStatus } from './types.js';

/** Child states that make it DEGRADED though it runs: backing off, hung handlers, stalled, probing. */
const DEGRADED_STATES = new Set(['backingOff', 'hung', 'stalled', 'OPEN', 'HALF_OPEN', 'local-degraded']);

function statusOf(status: ChildStatus, state: string | undefined): Health {
  if (status === 'failed') return 'UNHEALTHY';
  // Failed but about to be restarted by its policy: degraded, not down.
  if (status === 'restarting') return 'DEGRADED';
  if (state === 'failed') return 'UNHEALTHY';
  if (state !== undefined && DEGRADED_STATES.has(state)) return 'DEGRADED';
  return 'HEALTHY';
}

/**
 * A supervised child's contribution to the aggregate: given up on (`failed`) is UNHEALTHY;
 * restarting, a subscriber backing off or holding hung handlers, a stalled queue, or a breaker
 * that is OPEN or probing (HALF_OPEN) is DEGRADED.
 * @example
 * childHealth('breaker', 'running', 'OPEN', undefined); // { kind: 'breaker', status: 'DEGRADED', state: 'OPEN' }
 */
export function childHealth(
  kind: string,
  status: ChildStatus,
  state: string | undefined,
  lastError: ChildFailure | undefined,
): ChildHealth {
  const health = statusOf(status, state);
  return {
    kind,
    status: health,
    ...(state !== undefined && { state }),
    ...(health !== 'HEALTHY' && lastError && { message: lastError.message }),
  };
}
