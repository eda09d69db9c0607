import type { NatsConnection } from '@nats-io/transport-node';
import type { EndpointCounters, EndpointSpec } from '../../requests.js';
import { microName, RpcWire } from './wire.js';

/** One served endpoint as `$SRV.INFO` and `$SRV.STATS` list it. */
export interface MicroEndpoint {
  readonly name: string;
  readonly subject: string;
  readonly queueGroup: string;
  readonly metadata: Readonly<Record<string, string>>;
  readonly counters: () => EndpointCounters;
}

// Per connection, then per `<service>\0<instance>`: discovery answers for one instance on one
// connection, and lists the endpoints that instance serves there.
const served = new WeakMap<NatsConnection, Map<string, Set<MicroEndpoint>>>();

const keyOf = (service: string, instanceId: string): string => `${service}\u0000${instanceId}`;

/**
 * Lists an endpoint under its service instance for discovery on `nc`.
 * @returns a function that removes it
 */
export function listEndpoint(nc: NatsConnection, spec: EndpointSpec, subject: string): () => void {
  let byInstance = served.get(nc);
  if (!byInstance) served.set(nc, (byInstance = new Map()));
  const key = keyOf(spec.service, spec.instanceId);
  const set = byInstance.get(key) ?? new Set<MicroEndpoint>();
  byInstance.set(key, set);
  const entry: MicroEndpoint = {
    name: microName(spec.name),
    subject,
    queueGroup: RpcWire.queueGroup,
    metadata: spec.metadata,
    counters: spec.counters,
  };
  set.add(entry);
  return () => {
    set.delete(entry);
    if (set.size === 0 && byInstance.get(key) === set) byInstance.delete(key);
  };
}

/** @returns the endpoints a service instance serves on `nc`, in the order they were added */
export function endpointsOf(nc: NatsConnection, service: string, instanceId: string): MicroEndpoint[] {
  const set = served.get(nc)?.get(keyOf(service, instanceId));
  return set ? [...set] : [];
}
