import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { Supervisor } from '../../src/actors/supervisor/supervisor.js';
import { fixed } from '../../src/retry/backoff.js';
import { EndpointHost } from '../../src/rpc/endpoint.actor.js';
import { resolveHandleOptions } from '../../src/rpc/options.js';
import { systemClock } from '../../src/time/clock.js';
import type {
  EndpointHandle,
  IncomingRequest,
  RequestSink,
  RequestTransport,
} from '../../src/transport/requests.js';
import { testLogger } from '../support/events.js';
import { until } from '../support/wait.js';

/** A transport whose subscriptions the test can close under the endpoint. */
class BreakableRequests implements RequestTransport {
  readonly sinks: RequestSink[] = [];
  serve(_spec: unknown, sink: RequestSink): EndpointHandle {
    this.sinks.push(sink);
    return { ready: Promise.resolve(), stop: async () => undefined };
  }
  request(): Promise<string> {
    return Promise.reject(new Error('not used'));
  }
  async endpoints() {
    return [];
  }
}

function incoming(body: string): IncomingRequest & { answer?: string } {
  const req: IncomingRequest & { answer?: string } = {
    endpoint: 'orders.get',
    body,
    timeoutMs: 1_000,
    header: () => undefined,
    respond: (b) => void (req.answer = String(b)),
    fail: (code, message) => void (req.answer = `${code} ${message}`),
  };
  return req;
}

describe('endpoint host under supervision', () => {
  it('serves again after its subscription is closed under it; counters carry over', async () => {
    const supervisor = new Supervisor({ clock: systemClock, logger: testLogger });
    const requests = new BreakableRequests();
    const host = new EndpointHost({
      id: 'endpoint:orders.get',
      spec: { name: 'orders.get', service: 'orders', instanceId: 'i1', metadata: {} },
      dispatch: {
        name: 'orders.get',
        request: z.object({ id: z.string() }),
        response: z.object({ id: z.string() }),
        handler: (req) => req,
        options: resolveHandleOptions({}),
        clock: systemClock,
        logger: testLogger,
      },
      requests,
      clock: systemClock,
      logger: testLogger,
    });
    host.supervise(supervisor, { backoff: fixed({ delayMs: 10 }), maxRestarts: 3 });
    await host.ready;
    const first = incoming('{"id":"1"}');
    requests.sinks[0]!.request(first);
    await until(() => first.answer !== undefined, 'the first answer');
    expect(first.answer).toBe('{"id":"1"}');

    requests.sinks[0]!.failed(new Error('subscription closed'));
    expect(host.status()).toBe('failed');
    expect(supervisor.report()['endpoint:orders.get']).toMatchObject({ status: 'restarting' });
    await until(() => host.status() === 'serving', 'serving again');
    expect(requests.sinks).toHaveLength(2);
    expect(supervisor.report()['endpoint:orders.get']).toMatchObject({ status: 'running', restarts: 1 });

    const second = incoming('{"id":"2"}');
    requests.sinks[1]!.request(second);
    await until(() => second.answer !== undefined, 'the second answer');
    expect(host.stats()).toMatchObject({ requests: 2, errors: 0 });

    await host.stop();
    expect(host.status()).toBe('stopped');
    expect(supervisor.has('endpoint:orders.get')).toBe(false);
    supervisor.dispose();
  });
});
