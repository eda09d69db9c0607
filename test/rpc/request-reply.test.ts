import { describe, expect, it } from 'vitest';
import {
  isCircuitOpenError,
  isNoRespondersError,
  isRemoteError,
  isTimeoutError,
  isValidationError,
} from '../../src/errors.js';
import { fixed } from '../../src/retry/backoff.js';
import { activeTrace, runWithTrace } from '../../src/tracing/context.js';
import { useRuntimes } from '../support/runtime.js';
import { transportCases } from '../support/transports.js';
import { deferred, Gate, releaseInRounds, until, within } from '../support/wait.js';
import { api, strictApi, uniqueService } from './api.js';

/** The rejection of `p`, failing the test when it resolves. */
async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    (v) => {
      throw new Error(`expected a rejection, got ${JSON.stringify(v)}`);
    },
    (err: unknown) => err,
  );
}

describe.each(transportCases)('request/reply on $name', (c) => {
  const { runtime } = useRuntimes(c);

  async function served(service = uniqueService('orders')) {
    const server = await runtime(service);
    const client = await runtime(uniqueService('shop'));
    return { server, client };
  }

  it('answers a typed request with a typed, validated response; id and trace travel along', async () => {
    const { server, client } = await served();
    const seen: { id: string; traceId: string | undefined }[] = [];
    const ep = server.handle(api, 'orders.get', async (req, meta) => {
      seen.push({ id: meta.id, traceId: activeTrace()?.traceId });
      return { id: req.id, status: 'paid' };
    });
    await ep.ready;
    expect(server.readiness()).toEqual({ ready: true });
    const trace = { traceId: 'ab'.repeat(16), spanId: 'cd'.repeat(8), sampled: true };
    const order = await runWithTrace(trace, () =>
      client.request(api, 'orders.get', { id: '42' }, { timeoutMs: 2_000, id: 'req-1' }),
    );
    expect(order).toEqual({ id: '42', status: 'paid' });
    expect(seen).toEqual([{ id: 'req-1', traceId: trace.traceId }]);
    expect(ep.stats()).toMatchObject({ requests: 1, errors: 0, inFlight: 0 });
    expect(ep.stats().processingNs).toBeGreaterThan(0);
  });

  it('refuses an invalid request before sending it, and answers 400 to one that was sent anyway', async () => {
    const { server, client } = await served();
    let calls = 0;
    await server.handle(api, 'orders.get', (req) => (calls++, { id: req.id, status: 'paid' })).ready;
    const local = await rejection(client.request(api, 'orders.get', { id: 1 as unknown as string }));
    expect(isValidationError(local)).toBe(true);
    const raw = await rejection(
      client.transport.requests!().request({ endpoint: 'orders.get', body: '{"id":1}', timeoutMs: 2_000 }),
    );
    expect(isRemoteError(raw) && raw.code).toBe(400);
    expect((raw as Error).message).toMatch(/invalid "orders.get" request: id/);
    const notJson = await rejection(
      client.transport.requests!().request({ endpoint: 'orders.get', body: 'nope', timeoutMs: 2_000 }),
    );
    expect(isRemoteError(notJson) && notJson.code).toBe(400);
    expect(calls).toBe(0);
  });

  it('validates responses on both sides: a bad handler answer is a 500, a response the caller rejects a ValidationError', async () => {
    const { server, client } = await served();
    let status = 'paid';
    server.handle(api, 'orders.get', (req) =>
      status === 'bad' ? ({ id: 7 } as never) : { id: req.id, status },
    );
    await server.listEndpoints()[0]!.ready;
    status = 'bad';
    const bad = await rejection(client.request(api, 'orders.get', { id: '1' }));
    expect(isRemoteError(bad) && bad.code).toBe(500);
    expect((bad as Error).message).toMatch(/invalid "orders.get" response/);
    status = 'refunded';
    const strict = await rejection(client.request(strictApi, 'orders.get', { id: '1' }));
    expect(isValidationError(strict)).toBe(true);
    expect((strict as Error).message).toMatch(/invalid "orders.get" response: status/);
  });

  it("a handler's throw arrives as RemoteError 500 with its message, and the endpoint keeps serving", async () => {
    const { server, client } = await served();
    let fail = true;
    const ep = server.handle(api, 'orders.get', (req) => {
      if (fail) throw new Error('order store is down');
      return { id: req.id, status: 'paid' };
    });
    await ep.ready;
    const err = await rejection(client.request(api, 'orders.get', { id: '1' }, { breaker: false }));
    expect(isRemoteError(err)).toBe(true);
    expect(err).toMatchObject({ code: 500, message: 'order store is down', endpoint: 'orders.get' });
    fail = false;
    await expect(client.request(api, 'orders.get', { id: '2' })).resolves.toEqual({
      id: '2',
      status: 'paid',
    });
    expect(ep.stats()).toMatchObject({ requests: 2, errors: 1, lastError: 'order store is down' });
    expect(ep.status()).toBe('serving');
  });

  it("times out: the caller gets TimeoutError and the handler's signal is aborted", async () => {
    const { server, client } = await served();
    const aborted = deferred<unknown>();
    const ep = server.handle(
      api,
      'orders.slow',
      async (_req, meta) => {
        meta.signal.addEventListener('abort', () => aborted.resolve(meta.signal.reason));
        await new Promise((r) => meta.signal.addEventListener('abort', r));
        return { waitedMs: 0 };
      },
      { timeoutMs: 150 },
    );
    await ep.ready;
    const err = await rejection(client.request(api, 'orders.slow', { id: '1' }, { timeoutMs: 10_000 }));
    expect(isRemoteError(err) && err.code).toBe(504);
    expect(isTimeoutError(await within(aborted.promise, { what: 'the handler signal aborted' }))).toBe(true);
    expect(ep.stats()).toMatchObject({ timeouts: 1, errors: 1 });
  });

  it('the caller deadline travels: a caller with 100 ms left aborts the handler at ~100 ms, not at its own timeout', async () => {
    const { server, client } = await served();
    const abortedAfter = deferred<number>();
    await server.handle(
      api,
      'orders.slow',
      async (_req, meta) => {
        const start = performance.now();
        await new Promise((r) => meta.signal.addEventListener('abort', r));
        abortedAfter.resolve(performance.now() - start);
        return { waitedMs: performance.now() - start };
      },
      { timeoutMs: 10_000 },
    ).ready;
    const started = performance.now();
    const err = await rejection(client.request(api, 'orders.slow', { id: '1' }, { timeoutMs: 100 }));
    expect(isTimeoutError(err)).toBe(true);
    expect(performance.now() - started).toBeLessThan(1_000);
    const after = await within(abortedAfter.promise, {
      timeoutMs: 3_000,
      what: 'the handler signal aborted',
    });
    expect(after).toBeGreaterThan(50);
    expect(after).toBeLessThan(1_000);
  });

  it('says at once when nobody serves the endpoint', async () => {
    const client = await runtime(uniqueService('shop'));
    const started = performance.now();
    const err = await rejection(client.request(api, 'orders.get', { id: '1' }, { timeoutMs: 5_000 }));
    expect(isNoRespondersError(err)).toBe(true);
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  it('retries "no responders" within the deadline when given a retry policy', async () => {
    const { server, client } = await served();
    const attempts: number[] = [];
    const call = client.request(
      api,
      'orders.get',
      { id: '3' },
      {
        timeoutMs: 5_000,
        retry: { maxAttempts: 20, backoff: fixed({ delayMs: 50 }) },
        breaker: false,
        headers: { attempt: 'x' },
      },
    );
    // The endpoint comes up while the caller is retrying.
    setTimeout(() => {
      server.handle(
        api,
        'orders.get',
        (req, meta) => (attempts.push(1), { id: req.id, status: meta.header('attempt') ?? '' }),
      );
    }, 120);
    await expect(call).resolves.toEqual({ id: '3', status: 'x' });
    expect(attempts).toHaveLength(1);
    const nobody = await rejection(
      client.request(
        api,
        'orders.slow',
        { id: '1' },
        { timeoutMs: 200, retry: { maxAttempts: 100, backoff: fixed({ delayMs: 30 }) } },
      ),
    );
    expect(isTimeoutError(nobody)).toBe(true);
  });

  it('instances of a service share the load on one queue group', async () => {
    const service = uniqueService('orders');
    const [a, b] = [await runtime(service), await runtime(service)];
    const client = await runtime(uniqueService('shop'));
    const by = { a: 0, b: 0 };
    const gate = new Gate();
    const handler = (who: 'a' | 'b') => async (req: { id: string }) => {
      by[who]++;
      await gate.pass();
      return { id: req.id, status: who };
    };
    await Promise.all([
      a.handle(api, 'orders.get', handler('a')).ready,
      b.handle(api, 'orders.get', handler('b')).ready,
    ]);
    const calls = Array.from({ length: 40 }, (_, i) => client.request(api, 'orders.get', { id: String(i) }));
    await until(() => gate.held === 40, '40 requests held');
    gate.openAll();
    const answers = await Promise.all(calls);
    expect(answers.map((o) => o.id)).toEqual(Array.from({ length: 40 }, (_, i) => String(i)));
    expect(by.a + by.b).toBe(40);
    expect(by.a).toBeGreaterThan(0);
    expect(by.b).toBeGreaterThan(0);
  });

  it('opens the remote endpoint breaker after failures and then refuses fast, without sending', async () => {
    const { server, client } = await served();
    let calls = 0;
    await server.handle(api, 'orders.get', () => {
      calls++;
      throw new Error('down');
    }).ready;
    const breaker = { failureThreshold: 3, resetTimeoutMs: 60_000 };
    for (let i = 0; i < 3; i++) {
      const err = await rejection(client.request(api, 'orders.get', { id: '1' }, { breaker }));
      expect(isRemoteError(err)).toBe(true);
    }
    const started = performance.now();
    const refused = await rejection(client.request(api, 'orders.get', { id: '1' }, { breaker }));
    expect(isCircuitOpenError(refused)).toBe(true);
    expect(performance.now() - started).toBeLessThan(50);
    expect(calls).toBe(3);
    expect(client.breakers.stats()['rpc:orders.get']).toMatchObject({ state: 'OPEN', failureCount: 3 });
    expect(client.supervisor.report()['breaker:rpc:orders.get']).toMatchObject({ kind: 'breaker' });
  });

  it('a 4xx answer does not count against the breaker', async () => {
    const { server, client } = await served();
    await server.handle(api, 'orders.get', (req) => ({ id: req.id, status: 'paid' })).ready;
    const requests = client.transport.requests!();
    for (let i = 0; i < 3; i++)
      await rejection(requests.request({ endpoint: 'orders.get', body: '{}', timeoutMs: 2_000 }));
    await client.request(api, 'orders.get', { id: '1' }, { breaker: { failureThreshold: 1 } });
    expect(client.breakers.stats()['rpc:orders.get']).toMatchObject({ state: 'CLOSED', failureCount: 0 });
  });

  it('caps concurrency: requests beyond it wait for a slot', async () => {
    const { server, client } = await served();
    const gate = new Gate();
    const ep = server.handle(
      api,
      'orders.get',
      async (req) => {
        await gate.pass();
        return { id: req.id, status: 'paid' };
      },
      { concurrency: 2 },
    );
    await ep.ready;
    const calls = Array.from({ length: 5 }, (_, i) => client.request(api, 'orders.get', { id: String(i) }));
    await until(() => gate.held === 2 && ep.stats().waiting === 3, 'two running, three waiting');
    expect(ep.stats().inFlight).toBe(2);
    await releaseInRounds(gate, 5, 2);
    expect((await Promise.all(calls)).map((o) => o.id)).toEqual(['0', '1', '2', '3', '4']);
  });

  it('is ready only while every endpoint serves, and stops with shutdown after its in-flight requests', async () => {
    const { server, client } = await served();
    const gate = new Gate();
    const ep = server.handle(api, 'orders.get', async (req) => {
      await gate.pass();
      return { id: req.id, status: 'paid' };
    });
    expect(server.readiness().ready).toBe(false);
    await ep.ready;
    expect(server.readiness()).toEqual({ ready: true });
    expect(server.supervisor.report()['endpoint:orders.get']).toMatchObject({
      kind: 'endpoint',
      state: 'serving',
    });
    const call = client.request(api, 'orders.get', { id: '9' });
    await until(() => gate.held === 1, 'the request in flight');
    const down = server.shutdown();
    await until(() => ep.status() === 'draining', 'the endpoint draining');
    gate.openAll();
    await expect(call).resolves.toEqual({ id: '9', status: 'paid' });
    await down;
    expect(ep.status()).toBe('stopped');
    const after = await rejection(client.request(api, 'orders.get', { id: '1' }));
    expect(isNoRespondersError(after)).toBe(true);
  });
});
