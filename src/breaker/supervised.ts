import type { Breaker } from './breaker.js';
import type { Supervisor } from '../actors/supervisor/supervisor.js';

/**
 * Lists a circuit breaker among the supervisor's children (`breaker:<name>`, its state as the
 * child's state), so health reports and the dashboard show every bulwark actor in one place. A
 * breaker has no failure of its own to restart from: its registry owns its life, and the
 * supervisor only tracks it.
 * @example
 * trackBreaker(supervisor, rt.breaker('stripe'));
 */
export function trackBreaker(supervisor: Supervisor, breaker: Breaker): void {
  supervisor.add(
    {
      id: supervisor.freeId(`breaker:${breaker.name}`),
      kind: 'breaker',
      state: () => breaker.state,
      restart: () => undefined,
      halt: () => Promise.resolve(),
    },
    false,
  );
}
