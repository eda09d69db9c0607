import { afterEach } from 'vitest';
import { createRuntime, type RuntimeOptions } from '../../src/runtime/create-runtime.js';
import type { Runtime } from '../../src/runtime/runtime.js';
import type { TestBus, TransportCase } from './transports.js';
import { testEvents, testLogger } from './events.js';

/** A runtime on the test registry. */
export type TestRuntime = Runtime<typeof testEvents.schemas>;

/**
 * Per-test runtimes on one bus of the given transport; all shut down and cleaned up after each test.
 * @returns a factory: each call is another "service instance" on the same bus
 */
export function useRuntimes(c: TransportCase): {
  runtime: (
    service?: string,
    extra?: Partial<RuntimeOptions<typeof testEvents.schemas>>,
  ) => Promise<TestRuntime>;
  bus: () => TestBus;
} {
  let bus: TestBus | undefined;
  const runtimes: TestRuntime[] = [];
  afterEach(async () => {
    await Promise.all(runtimes.splice(0).map((rt) => rt.shutdown()));
    await bus?.dispose();
    bus = undefined;
  });
  const getBus = (): TestBus => (bus ??= c.bus());
  return {
    bus: getBus,
    runtime: async (service = 'accounts', extra = {}) => {
      const rt = await createRuntime({
        service,
        events: testEvents,
        transport: getBus().transport(),
        logger: testLogger,
        ...extra,
      });
      runtimes.push(rt);
      return rt;
    },
  };
}
