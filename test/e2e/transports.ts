import { inject } from 'vitest';
import { memoryTransport } from '../../src/transport/memory/memory-transport.js';
import { natsTransport } from '../../src/transport/nats/nats-transport.js';
import { dropStreams, uniquePrefix } from '../transport/nats/helpers.js';
import type { Transport } from '../../src/transport/transport.js';

/** One broker namespace for a test: every transport it hands out reaches the same streams. */
export interface TestBus {
  /** A transport connected to this bus (memory: one shared instance; NATS: a new connection, same prefix). */
  transport(): Transport;
  /** Removes what the test left on the broker. */
  dispose(): Promise<void>;
}

/** A transport the shared end-to-end suite runs against. */
export interface TransportCase {
  readonly name: string;
  bus(): TestBus;
}

const memory: TransportCase = {
  name: 'memory',
  bus() {
    const shared = memoryTransport();
    return { transport: () => shared, dispose: async () => undefined };
  },
};

const nats: TransportCase = {
  name: 'nats',
  bus() {
    const servers = inject('natsUrl');
    const prefix = uniquePrefix();
    return {
      transport: () => natsTransport({ servers, prefix }),
      dispose: () => dropStreams(servers, prefix),
    };
  },
};

/** Every transport the shared suite runs against. */
export const transportCases: TransportCase[] = [memory, nats];
