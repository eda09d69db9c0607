import type { Logger } from '../logging.js';
import type { DiscoveredInstance } from '../transport/presence.js';
import type { Transport } from '../transport/transport.js';
import type { HealthMonitor } from './health.js';

/** What an instance announces about itself. */
export interface PresenceParts {
  readonly service: string;
  readonly version: string;
  readonly instanceId: string;
  readonly transport: Transport;
  readonly logger: Logger;
}

/**
 * Announces this instance for discovery where the transport offers presence (NATS `$SRV`).
 * @returns a function that withdraws it, or undefined when the transport has no presence
 */
export async function advertise(
  parts: PresenceParts,
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
