import { connect } from '@nats-io/transport-node';
import type { DiscoveredInstance } from '../presence.js';
import { natsPresence } from './discovery.js';

/** Options of {@link discoverInstances}. */
export interface DiscoverOptions {
  /** @default 'nats://127.0.0.1:4222' */
  readonly servers?: string | readonly string[];
  /** @default 'bulwark' */
  readonly prefix?: string;
  readonly service: string;
  /** How long to wait for the connection. @default 2_000 */
  readonly timeoutMs?: number;
  /** How long to collect answers. @default 750 */
  readonly waitMs?: number;
}

/**
 * Lists the live instances of a service, with their health, over a connection of its own (for
 * tools such as the CLI, which need no streams).
 * @throws {Error} when the server cannot be reached
 * @example
 * const [instance] = await discoverInstances({ servers: process.env.NATS_URL, service: 'accounts' });
 */
export async function discoverInstances(o: DiscoverOptions): Promise<DiscoveredInstance[]> {
  const servers = o.servers ?? 'nats://127.0.0.1:4222';
  const timeout = o.timeoutMs ?? 2_000;
  const nc = await connect({
    servers: typeof servers === 'string' ? servers : [...servers],
    timeout,
    name: 'bulwark-cli',
  });
  try {
    return await natsPresence(nc, o.prefix ?? 'bulwark').discover(o.service, o.waitMs ?? 750);
  } finally {
    await nc.close();
  }
}
