import { afterEach } from 'vitest';
import { createRuntime } from '../../src/runtime/create-runtime.js';
import type { Runtime } from '../../src/runtime/runtime.js';
import type { HttpServer, ListenOptions } from '../../src/http/server.js';
import type { TestBus, TransportCase } from '../support/transports.js';
import { testLogger } from '../support/events.js';
import { gatewayEvents, type SseTestClient, type WsTestClient } from './support.js';

export type GatewayRuntime = Runtime<typeof gatewayEvents.schemas>;

/** Runtimes, servers and clients of one test on one bus; all closed after each test. */
export function useGateway(c: TransportCase): {
  runtime(service?: string): Promise<GatewayRuntime>;
  listen<C>(rt: GatewayRuntime, options: ListenOptions<C>): Promise<HttpServer>;
  track<T extends WsTestClient | SseTestClient>(client: T): T;
  bus(): TestBus;
} {
  let bus: TestBus | undefined;
  const runtimes: GatewayRuntime[] = [];
  const clients: (WsTestClient | SseTestClient)[] = [];
  afterEach(async () => {
    for (const client of clients.splice(0)) client.close();
    await Promise.all(runtimes.splice(0).map((rt) => rt.shutdown()));
    await bus?.dispose();
    bus = undefined;
  });
  const getBus = (): TestBus => (bus ??= c.bus());
  return {
    bus: getBus,
    runtime: async (service = 'web') => {
      const rt = await createRuntime({
        service,
        events: gatewayEvents,
        transport: getBus().transport(),
        logger: testLogger,
        handleSignals: false,
      });
      runtimes.push(rt);
      return rt;
    },
    listen: (rt, options) => rt.listen({ port: 0, ...options }),
    track: (client) => {
      clients.push(client);
      return client;
    },
  };
}
