import type { HealthStatus } from '../../../health/types.js';
import type { SubscriberStatus } from '../../../actors/subscriber/subscriber.actor.js';
import type { BreakerState } from '../../../breaker/options.js';
import { byId } from './dom.js';

/** What a breaker's state means for health, for the status filter. */
export const BREAKER_HEALTH: Readonly<Record<BreakerState, HealthStatus>> = {
  CLOSED: 'HEALTHY',
  HALF_OPEN: 'DEGRADED',
  OPEN: 'UNHEALTHY',
};

/** What a subscriber's status means for health, for the status filter. */
export const SUBSCRIBER_HEALTH: Readonly<Partial<Record<string, HealthStatus>>> = {
  consuming: 'HEALTHY',
  handling: 'HEALTHY',
  starting: 'DEGRADED',
  draining: 'DEGRADED',
  backingOff: 'DEGRADED',
  failed: 'UNHEALTHY',
  stopped: 'UNHEALTHY',
} satisfies Record<SubscriberStatus, HealthStatus>;

/** Whether the status filter shows a row or card with this health status. */
export function isShown(status: string): boolean {
  const f = byId('filter', HTMLSelectElement).value;
  return f === 'all' || (f === 'attention' ? status !== 'HEALTHY' : status === f);
}

/** The ` hidden` attribute for a row or card the status filter hides, else nothing. */
export function hiddenAttr(status: string): string {
  return isShown(status) ? '' : ' hidden';
}
