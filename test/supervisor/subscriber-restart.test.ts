import { describe, expect, it } from 'vitest';
import { createRuntime } from '../../src/runtime/create-runtime.js';
import { memoryTransport } from '../../src/transport/memory/memory-transport.js';
import type { ConsumerSpec, DeliverySink, Transport } from '../../src/transport/transport.js';
import { testEvents, testLogger, user } from '../support/events.js';
import { until } from '../support/wait.js';

/** A memory transport whose first `failures` consumers fail to start. */
function flakyTransport(failures: number): Transport & { attempts: number } {
  const inner = memoryTransport();
  const flaky = Object.assign(Object.create(inner) as Transport & { attempts: number }, {
    attempts: 0,
    consume: (spec: ConsumerSpec, sink: DeliverySink) => {
      if (flaky.attempts++ < failures)
        return { ready: Promise.reject(new Error('consumer refused')), stop: () => Promise.resolve() };
      return inner.consume(spec, sink);
    },
  });
  return flaky;
}

describe('supervised subscribers', () => {
  it('a subscriber that failed for good is started again by the supervisor, same handle', async () => {
    const transport = flakyTransport(1);
    const rt = await createRuntime({
      service: 'svc',
      events: testEvents,
      transport,
      logger: testLogger,
      handleSignals: false,
    });
    const seen: string[] = [];
    const sub = rt.subscribe('user.created', (p) => void seen.push(p.id), { maxRestarts: 0 });
    await expect(sub.ready).rejects.toThrow(/failed/);
    expect(sub.status()).toBe('failed');
    expect((await rt.health.report()).actors['subscriber:svc/user.created']).toMatchObject({
      status: 'restarting',
    });
    await until(() => sub.status() === 'consuming', 'restarted subscriber consuming', 5_000);
    expect(await rt.health.report()).toMatchObject({
      actors: { 'subscriber:svc/user.created': { status: 'running', restarts: 1, state: 'consuming' } },
    });
    await rt.publish('user.created', user('1'));
    await until(() => seen.length === 1, 'delivery after restart');
    expect(sub.stats()).toMatchObject({ received: 1, handled: 1 });
    expect(await rt.metrics.text()).toMatch(
      /bulwark_actor_restarts_total\{kind="subscriber",service="svc"\} 1/,
    );
    await sub.stop();
    expect(rt.listSubscriptions()).toEqual([]);
    await rt.shutdown();
  });
});
