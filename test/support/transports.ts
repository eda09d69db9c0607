import { inject } from 'vitest';
import type { QueueTransport } from '../../src/queue/store.js';
import { memoryTransport } from '../../src/transport/memory/memory-transport.js';
import { natsTransport } from '../../src/transport/nats/nats-transport.js';
import { dropStreams, uniquePrefix } from '../transport/nats/helpers.js';

/** One broker namespace for a test: every transport it hands out reaches the same streams. */
export interface TestBus {
  /** A transport on this bus: memory, one shared instance; NATS, a new connection on the same prefix. */
  transport(): QueueTransport;
  /** The NATS subject and stream prefix, unique to this bus; empty on memory. */
  readonly prefix: string;
  /** The NATS server's URL; empty on memory. */
  readonly url: string;
  /** Removes what the test left on the broker: on NATS every stream of the prefix (`<PREFIX>_*`). */
  dispose(): Promise<void>;
}

/** A transport the shared suites run against. */
export interface TransportCase {
  readonly name: 'memory' | 'nats';
  /** A fresh bus; each test takes its own. */
  bus(): TestBus;
}

const memory: TransportCase = {
  name: 'memory',
  bus() {
    const shared = memoryTransport();
    return { transport: () => shared, prefix: '', url: '', dispose: async () => undefined };
  },
};

const nats: TransportCase = {
  name: 'nats',
  bus() {
    const url = inject('natsUrl');
    const prefix = uniquePrefix();
    return {
      transport: () => natsTransport({ servers: url, prefix }),
      prefix,
      url,
      dispose: () => dropStreams(url, prefix),
    };
  },
};

/** Every transport the shared suites run against: `describe.each(transportCases)(… on $name, …)`. */
export const transportCases: readonly TransportCase[] = [memory, nats];

/** @returns the case of one transport, for a suite that only it can run */
export function transportCase(name: TransportCase['name']): TransportCase {
  return name === 'memory' ? memory : nats;
}
