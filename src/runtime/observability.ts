import type { ActorOptions, AnyActorLogic } from 'xstate';
import type { Subscription } from '../actors/subscriber/subscriber.actor.js';
import { superviseSubscription } from '../actors/supervisor/supervised-subscription.js';
import { Supervisor } from '../actors/supervisor/supervisor.js';
import type { Clock } from '../time/clock.js';
import { HealthMonitor } from '../health/health.js';
import type { Logger } from '../logging.js';
import { RuntimeMetrics } from '../metrics/metrics.js';
import type { Queue } from '../queue/queue.js';
import { activeTrace, formatTraceparent, parseTraceparent } from '../tracing/context.js';
import type { PublishOptions } from './envelope.js';
import { otelActive, withSpan } from '../tracing/otel.js';
import type { Transport } from '../transport/transport.js';
import type { DiscoveredInstance } from '../transport/presence.js';
import type { Readiness } from '../http/routes.js';

/** What supervision, health and metrics are built from. */
export interface ObservabilityParts {
  readonly service: string;
  readonly version: string;
  readonly instanceId: string;
  readonly transport: Transport;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly inspect: ActorOptions<AnyActorLogic>['inspect'] | undefined;
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

/**
 * Starts a subscriber under the runtime's supervisor, with a unique id per subscription and its
 * start-up failure counted in metrics.
 */
export function supervisedSubscriber(
  o: Observability,
  group: string,
  type: string,
  start: () => Subscription,
): Subscription {
  const sub = superviseSubscription(o.supervisor, o.supervisor.freeId(`subscriber:${group}/${type}`), start);
  sub.ready.catch(() => o.metrics.onSubscribeError(type, group));
  return sub;
}

/** Wraps a handler in a consumer span when an OpenTelemetry SDK is registered (a plain call otherwise). */
export function tracedHandler<P, M extends { readonly traceparent?: string | undefined }>(
  type: string,
  group: string,
  handler: (payload: P, meta: M) => unknown,
): (payload: P, meta: M) => unknown {
  const attributes = { 'messaging.destination.name': type, 'messaging.consumer.group.name': group };
  const name = `${type} process`;
  return (payload, meta) => {
    if (!otelActive()) return handler(payload, meta);
    const parent = parseTraceparent(meta.traceparent);
    return withSpan({ name, kind: 'consumer', attributes, ...(parent && { parent }) }, () =>
      handler(payload, meta),
    );
  };
}

/** Ready: open, the transport connected, every subscriber consuming and every queue's store open (and its worker taking jobs). */
export function readiness(
  closing: boolean,
  transport: Transport,
  subs: Iterable<Subscription>,
  queues: Iterable<Queue>,
): Readiness {
  if (closing) return { ready: false, reason: 'shutting down' };
  if (!transport.status().connected) return { ready: false, reason: `transport ${transport.status().state}` };
  for (const s of subs) {
    const status = s.status();
    if (status !== 'consuming' && status !== 'handling')
      return { ready: false, reason: `subscriber ${s.group}/${s.type} is ${status}` };
  }
  for (const q of queues) {
    const status = q.status();
    if (status !== 'working' && status !== 'idle')
      return { ready: false, reason: `queue ${q.name} is ${status}` };
  }
  return { ready: true };
}

/**
 * Announces this instance for discovery where the transport offers presence (NATS `$SRV`).
 * @returns a function that withdraws it, or undefined when the transport has no presence
 */
export async function advertise(
  parts: ObservabilityParts,
  health: HealthMonitor,
): Promise<(() => Promise<void>) | undefined> {
  const presence = parts.transport.presence?.();
  if (!presence) return undefined;
  try {
    const ad = await presence.advertise({
      name: parts.service,
      id: parts.instanceId,
      version: parts.version,
      health: async () => {
        const r = await health.report();
        return { status: r.status, timestamp: r.timestamp, uptime: r.uptime };
      },
    });
    return () => ad.stop();
  } catch (err) {
    parts.logger.warn({ err }, 'could not advertise the service for discovery');
    return undefined;
  }
}

/**
 * Lists live instances of `service` through the transport's presence.
 * @returns an empty list when the transport has no presence (the memory transport)
 */
export async function discover(
  transport: Transport,
  service: string,
  timeoutMs: number,
): Promise<DiscoveredInstance[]> {
  const presence = transport.presence?.();
  return presence ? presence.discover(service, timeoutMs) : [];
}

/**
 * Runs a publish in a PRODUCER span when an OpenTelemetry SDK is registered: the event carries the
 * span's `traceparent`, so the consumer's span is its child. A plain call otherwise.
 */
export function publishSpan<T>(
  type: string,
  options: PublishOptions | undefined,
  publish: (options: PublishOptions | undefined) => Promise<T>,
): Promise<T> {
  if (!otelActive()) return publish(options);
  const parent = parseTraceparent(options?.traceparent);
  const spec = {
    name: `${type} publish`,
    kind: 'producer' as const,
    attributes: { 'messaging.destination.name': type },
  };
  return withSpan({ ...spec, ...(parent && { parent }) }, () =>
    publish({ ...options, traceparent: formatTraceparent(activeTrace()!) }),
  );
}
