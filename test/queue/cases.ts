import { afterEach, inject } from 'vitest';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { createRuntime } from '../../src/runtime/create-runtime.js';
import type { Runtime } from '../../src/runtime/runtime.js';
import { memoryTransport } from '../../src/transport/memory/memory-transport.js';
import { natsTransport } from '../../src/transport/nats/nats-transport.js';
import type { Transport } from '../../src/transport/transport.js';
import { testEvents, testLogger } from '../support/events.js';
import { uniquePrefix } from '../transport/nats/helpers.js';

/** A transport the queue suite runs against; NATS gets a fresh prefix (and streams) per test. */
export interface QueueCase {
  readonly name: 'memory' | 'nats';
  bus(): { transport(): Transport; prefix: string; url: string; dispose(): Promise<void> };
}

/** Deletes every stream of `prefix` (events, dead letters, queues). */
export async function dropPrefix(url: string, prefix: string): Promise<void> {
  const nc = await connect({ servers: url });
  try {
    const jsm = await jetstreamManager(nc);
    const head = `${prefix.toUpperCase()}_`;
    for await (const s of jsm.streams.list()) {
      if (s.config.name.startsWith(head)) await jsm.streams.delete(s.config.name).catch(() => false);
    }
  } finally {
    await nc.close();
  }
}

export const queueCases: QueueCase[] = [
  {
    name: 'memory',
    bus() {
      const shared = memoryTransport();
      return { transport: () => shared, prefix: '', url: '', dispose: async () => undefined };
    },
  },
  {
    name: 'nats',
    bus() {
      const url = inject('natsUrl');
      const prefix = uniquePrefix();
      return {
        transport: () => natsTransport({ servers: url, prefix }),
        prefix,
        url,
        dispose: () => dropPrefix(url, prefix),
      };
    },
  },
];

/** Runtimes on one bus per test, shut down and cleaned up after it. */
export function useQueueRuntimes(c: QueueCase) {
  let bus: ReturnType<QueueCase['bus']> | undefined;
  const runtimes: Runtime[] = [];
  afterEach(async () => {
    await Promise.all(runtimes.splice(0).map((rt) => rt.shutdown()));
    await bus?.dispose();
    bus = undefined;
  });
  const getBus = () => (bus ??= c.bus());
  return {
    bus: getBus,
    runtime: async (service = 'workers'): Promise<Runtime> => {
      const rt = await createRuntime({
        service,
        events: testEvents,
        transport: getBus().transport(),
        logger: testLogger,
      });
      runtimes.push(rt as unknown as Runtime);
      return rt as unknown as Runtime;
    },
  };
}
