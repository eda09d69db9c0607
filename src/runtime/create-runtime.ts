import type { Inspect } from '../env.js';
import { systemClock, type Clock } from '../time/clock.js';
import type { EventRegistry, EventSchemas } from '../events/registry.js';
import { withCorrelationFields } from '../events/correlation.js';
import { uuidv7 } from '../events/ids.js';
import { serviceLogger, type Logger } from '../logging.js';
import { memoryTransport } from '../transport/memory/memory-transport.js';
import type { QueueTransport } from '../queue/store.js';
import { natsTransport } from '../transport/nats/nats-transport.js';
import type { NatsTransportOptions } from '../transport/nats/toolkit/options.js';
import type { Transport } from '../transport/transport.js';
import { hybridTransport } from '../transport/hybrid.js';
import { Runtime } from './runtime.js';
import { withTraceFields } from '../tracing/log-fields.js';

/**
 * The transport the environment asks for: NATS JetStream when `NATS_URL` is set (comma-separated
 * servers; subject prefix from `BULWARK_PREFIX`, JetStream domain from `NATS_JS_DOMAIN`), the
 * embedded memory transport otherwise. The NATS client is loaded only when that transport starts.
 * @param nats - NATS options on top of what the environment says (the CLI binds without provisioning)
 * @throws {TypeError} when `BULWARK_PREFIX` or `NATS_JS_DOMAIN` is not one subject token
 * @example
 * const transport = transportFromEnv({ NATS_URL: 'nats://127.0.0.1:4222', BULWARK_PREFIX: 'shop' });
 */
export function transportFromEnv(
  env: NodeJS.ProcessEnv = process.env,
  nats: NatsTransportOptions = {},
): QueueTransport {
  const servers = env.NATS_URL;
  if (!servers) return memoryTransport();
  return natsTransport({
    servers: servers.split(',').map((s) => s.trim()),
    ...(env.BULWARK_PREFIX && { prefix: env.BULWARK_PREFIX }),
    ...(env.NATS_JS_DOMAIN && { domain: env.NATS_JS_DOMAIN }),
    ...nats,
  });
}

/** The transport used when none is given: {@link transportFromEnv} of this process's environment. */
export async function defaultTransport(env: NodeJS.ProcessEnv = process.env): Promise<Transport> {
  return transportFromEnv(env);
}

/** Options of {@link createRuntime}. */
export interface RuntimeOptions<S extends EventSchemas> {
  /** The service name: CloudEvents `source`, log and metric label, NATS service name. */
  service: string;
  /** The event schema registry from `defineEvents`. */
  events: EventRegistry<S>;
  /** @default NATS JetStream at `NATS_URL` when it is set, else `memoryTransport()` (a new embedded broker) */
  transport?: Transport;
  /** Lines carry `service` (a logger given here is wrapped in a child that adds it). @default pino at `LOG_LEVEL` (default 'info') */
  logger?: Logger;
  /** Stately inspector (or any XState inspection observer), passed to every root actor. */
  inspect?: Inspect;
  /** Reported in health. @default '0.0.0' */
  version?: string;
  /** @default the system clock */
  clock?: Clock;
  /**
   * Shut down gracefully on SIGTERM / SIGINT, then exit the process (0, or 1 when the deadline
   * abandoned work). One process listener serves every runtime and is removed at shutdown.
   * @default true
   */
  handleSignals?: boolean;
  /** After this long, shutdown gives up on what is left and logs what it abandoned. @default 30_000 */
  shutdownTimeoutMs?: number;
  /**
   * Events not stored for this long make health UNHEALTHY (DEGRADED from the first moment they are
   * not). @default 30_000
   */
  transportUnhealthyAfterMs?: number;
}

/**
 * Creates and starts a runtime on its transport.
 * @throws {TransportError} when the broker cannot be reached
 * @example
 * const rt = await createRuntime({ service: 'accounts', events });
 * await rt.publish('user.created', { id: '1', username: 'ada', role: 'user' });
 * await rt.shutdown();
 */
export async function createRuntime<const S extends EventSchemas>(
  options: RuntimeOptions<S>,
): Promise<Runtime<S>> {
  const clock = options.clock ?? systemClock;
  const transport = withLocalEvents(options.transport ?? (await defaultTransport()), options.events, clock);
  const baseLogger = withCorrelationFields(serviceLogger(options.service, options.logger));
  const instanceId = `${options.service}-${uuidv7().slice(-12)}`;
  const logger = withTraceFields(baseLogger, { instance: instanceId });
  await transport.start({ service: options.service, logger });
  return new Runtime<S>({
    service: options.service,
    version: options.version ?? '0.0.0',
    events: options.events,
    transport,
    logger,
    clock,
    instanceId,
    inspect: options.inspect,
    ...(options.handleSignals !== undefined && { handleSignals: options.handleSignals }),
    ...(options.shutdownTimeoutMs !== undefined && { shutdownTimeoutMs: options.shutdownTimeoutMs }),
    ...(options.transportUnhealthyAfterMs !== undefined && {
      transportUnhealthyAfterMs: options.transportUnhealthyAfterMs,
    }),
  });
}

/**
 * The runtime's transport, wrapped in a hybrid when the registry has `scope: 'local'` types: their
 * events go through an in-process bus of this runtime's own (with the same retries, dead letters
 * and redrive) and never reach the broker. Without local types, the transport as it is.
 */
function withLocalEvents(
  transport: Transport,
  events: Pick<EventRegistry, 'types' | 'scope'>,
  clock: Clock,
): Transport {
  const isLocal = (type: string): boolean => events.scope(type) === 'local';
  if (!events.types.some(isLocal)) return transport;
  const local = memoryTransport({
    clock,
    ...(transport.namespace !== undefined && { prefix: transport.namespace }),
  });
  return hybridTransport(transport, local, { types: events.types, isLocal });
}
