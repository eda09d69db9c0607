import type { Subscription } from '../actors/subscriber/subscriber.actor.js';
import type { Queue } from '../queue/queue.js';
import type { Transport } from '../transport/transport.js';

/** Whether the runtime should receive traffic, and why not. */
export interface Readiness {
  readonly ready: boolean;
  readonly reason?: string;
}

/** Ready: open, the transport connected, every subscriber consuming, every queue's store open (and its worker taking jobs) and every endpoint serving. */
export function readiness(
  closing: boolean,
  transport: Transport,
  subs: Iterable<Subscription>,
  queues: Iterable<Queue>,
  endpoints: Iterable<{ readonly name: string; status(): string }> = [],
): Readiness {
  if (closing) return { ready: false, reason: 'shutting down' };
  const t = transport.status();
  if (!t.storing) return { ready: false, reason: `transport is not storing events (${t.reason ?? t.state})` };
  for (const s of subs) {
    const status = s.status();
    if (status !== 'consuming' && status !== 'handling')
      return { ready: false, reason: `subscriber ${s.group}/${s.type} is ${status}` };
  }
  for (const q of queues) {
    const status = q.status();
    if (status !== 'working' && status !== 'idle' && status !== 'stalled')
      return { ready: false, reason: `queue ${q.name} is ${status}` };
  }
  for (const e of endpoints) {
    const status = e.status();
    if (status !== 'serving') return { ready: false, reason: `endpoint ${e.name} is ${status}` };
  }
  return { ready: true };
}
