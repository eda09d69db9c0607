import type { Breaker } from './breaker.js';
import type { Supervisor } from '../actors/supervisor/supervisor.js';

/**
 * Lists a circuit breaker among the supervisor's children (`breaker:<name>`, its state as the
 * child's state), so health reports and the dashboard show every bulwark actor in one place; each
 * state change is reported to the supervisor actor (OPEN and HALF_OPEN count as DEGRADED). A
 * breaker has no failure of its own to restart from: its registry owns its life, and the
 * supervisor only tracks it.
 * @param health - false: listed, but its state changes are not reported, so it never counts in health
 * @example
 * trackBreaker(supervisor, rt.breaker('stripe'));
 */
export function trackBreaker(supervisor: Supervisor, breaker: Breaker, health = true): void {
  const entry = supervisor.add(
    {
      id: supervisor.freeId(`breaker:${breaker.name}`),
      kind: 'breaker',
      machine: 'circuitBreaker',
      state: () => breaker.state,
      restart: () => undefined,
      halt: () => Promise.resolve(),
    },
    false,
  );
  // An OPEN or probing breaker makes the runtime DEGRADED, whether or not a service names it.
  if (health) breaker.on('stateChange', () => entry.changed());
}
