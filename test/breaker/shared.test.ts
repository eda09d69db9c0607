import { randomUUID } from 'node:crypto';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import {
  BreakerRegistry,
  type Breaker,
  type BreakerOptions,
  type BreakerState,
} from '../../src/breaker/index.js';
import { isCircuitOpenError } from '../../src/errors.js';
import type { KeyValueStore } from '../../src/transport/key-value.js';
import { MemoryKeyValue } from '../../src/transport/memory/key-value.js';
import { openNatsKeyValue } from '../../src/transport/nats/key-value.js';
import { deferred, until } from '../support/wait.js';
import { PAST_EPOCH, TestClock } from '../support/clock.js';

const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
const boom = () => Promise.reject(new Error('boom'));

/** Resolves when `breaker` reaches `to` (at once if it is there); rejects after `ms`. */
function reaches(breaker: Breaker, to: BreakerState, ms: number): Promise<number> {
  const started = performance.now();
  if (breaker.state === to) return Promise.resolve(0);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${breaker.name} did not reach ${to} within ${ms} ms`)),
      ms,
    );
    const off = breaker.on('stateChange', (change) => {
      if (change.to !== to) return;
      clearTimeout(timer);
      off();
      resolve(performance.now() - started);
    });
  });
}

/** Two "runtimes" of one service: each its own registry, its own store handle on one bucket. */
interface Cluster {
  stores: () => Promise<[KeyValueStore, KeyValueStore]>;
  dispose: () => Promise<void>;
}

const clusters: [string, () => Cluster][] = [
  [
    'memory',
    () => {
      const kv = new MemoryKeyValue('bulwark_breakers');
      return { stores: async () => [kv, kv], dispose: async () => undefined };
    },
  ],
  [
    'nats',
    () => {
      const bucket = `breakers_${randomUUID().slice(0, 8)}`;
      const conns: NatsConnection[] = [];
      return {
        stores: async () => {
          const url = inject('natsUrl');
          conns.push(await connect({ servers: url }), await connect({ servers: url }));
          return [await openNatsKeyValue(conns[0]!, bucket), await openNatsKeyValue(conns[1]!, bucket)];
        },
        dispose: async () => {
          const jsm = await jetstreamManager(conns[0]!);
          await jsm.streams.delete(`KV_${bucket}`).catch(() => undefined);
          await Promise.all(conns.map((c) => c.close()));
        },
      };
    },
  ],
];

describe.each(clusters)('shared breakers over %s KV', (_name, makeCluster) => {
  let cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const fn of cleanup.reverse()) await fn();
    cleanup = [];
  });

  async function twoInstances(options: BreakerOptions): Promise<[Breaker, Breaker]> {
    const cluster = makeCluster();
    cleanup.push(cluster.dispose);
    const [kvA, kvB] = await cluster.stores();
    const a = new BreakerRegistry({ service: 'billing', logger, keyValue: async () => kvA });
    const b = new BreakerRegistry({ service: 'billing', logger, keyValue: async () => kvB });
    cleanup.push(
      () => a.close(),
      () => b.close(),
    );
    const opts: BreakerOptions = { shared: true, failureThreshold: 1, ...options };
    const pair: [Breaker, Breaker] = [a.get('stripe', opts), b.get('stripe', opts)];
    await Promise.all(pair.map((x) => x.ready));
    expect(pair.map((x) => x.stats().shared)).toEqual([{ mode: 'shared' }, { mode: 'shared' }]);
    return pair;
  }

  it('opened in one instance, the other rejects within a second', async () => {
    const [a, b] = await twoInstances({ resetTimeoutMs: 60_000 });
    const seen = reaches(b, 'OPEN', 1_000);
    await a.execute(boom).catch(() => undefined);
    expect(a.state).toBe('OPEN');
    expect(await seen).toBeLessThan(1_000);
    const err: unknown = await b.execute(() => Promise.resolve('never')).catch((e: unknown) => e);
    expect(isCircuitOpenError(err)).toBe(true);
    expect(b.stats()).toMatchObject({ state: 'OPEN', openedAt: a.stats().openedAt, rejectedCount: 1 });
  });

  it('runs exactly one HALF_OPEN trial across both, then both close', async () => {
    const [a, b] = await twoInstances({ resetTimeoutMs: 300, halfOpenMaxCalls: 1 });
    await a.execute(boom).catch(() => undefined);
    await reaches(b, 'OPEN', 1_000);
    await Promise.all([reaches(a, 'HALF_OPEN', 2_000), reaches(b, 'HALF_OPEN', 2_000)]);
    // Every call is decided once it started a trial or was refused; the trial then waits on `gate`.
    let trials = 0;
    let decided = 0;
    const allDecided = deferred<void>();
    const decide = () => ++decided === 6 && allDecided.resolve();
    const gate = deferred<string>();
    const trial = () => (trials++, decide(), gate.promise);
    const calls = [a, b, a, b, a, b].map((x) =>
      x.execute(trial).catch((e: unknown) => (isCircuitOpenError(e) && decide(), e)),
    );
    await allDecided.promise;
    expect(trials).toBe(1);
    gate.resolve('ok');
    const results = await Promise.all(calls);
    expect(results.filter((r) => r === 'ok')).toHaveLength(1);
    expect(results.filter(isCircuitOpenError)).toHaveLength(5);
    await Promise.all([reaches(a, 'CLOSED', 1_000), reaches(b, 'CLOSED', 1_000)]);
    await expect(b.execute(() => Promise.resolve('after'))).resolves.toBe('after');
  });

  it('a failed trial reopens both', async () => {
    const [a, b] = await twoInstances({ resetTimeoutMs: 300 });
    await b.execute(boom).catch(() => undefined);
    await Promise.all([reaches(a, 'HALF_OPEN', 2_000), reaches(b, 'HALF_OPEN', 2_000)]);
    const reopened = [reaches(a, 'OPEN', 1_000), reaches(b, 'OPEN', 1_000)];
    const results = await Promise.all(
      [a.execute(boom), b.execute(boom)].map((p) => p.catch((e: unknown) => e)),
    );
    expect(results.filter(isCircuitOpenError)).toHaveLength(1);
    await Promise.all(reopened);
  });

  it('manual open() and reset() reach every instance', async () => {
    const [a, b] = await twoInstances({ resetTimeoutMs: 60_000 });
    const opened = reaches(b, 'OPEN', 1_000);
    a.open();
    await opened;
    expect(b.stats().forced).toBe(true);
    const closed = reaches(b, 'CLOSED', 1_000);
    a.reset();
    await closed;
    expect(b.stats().forced).toBeUndefined();
  });
});

describe('shared breakers when the bucket fails', () => {
  it('degrade to local state, say so in stats, and come back once a write succeeds', async () => {
    const kv = new MemoryKeyValue('bulwark_breakers');
    let broken = false;
    const flaky = new Proxy(kv, {
      get(target, prop, receiver) {
        const value: unknown = Reflect.get(target, prop, receiver);
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) =>
          broken && prop !== 'watch'
            ? Promise.reject(new Error('connection lost'))
            : (value as (...a: unknown[]) => unknown).apply(target, args);
      },
    });
    const registry = new BreakerRegistry({ service: 'billing', logger, keyValue: async () => flaky });
    const breaker = registry.get('stripe', { shared: true, failureThreshold: 1, resetTimeoutMs: 60_000 });
    await breaker.ready;
    expect(breaker.stats().shared).toEqual({ mode: 'shared' });
    broken = true;
    await breaker.execute(boom).catch(() => undefined);
    await reaches(breaker, 'OPEN', 100);
    await new Promise((r) => setImmediate(r));
    expect(breaker.stats()).toMatchObject({ state: 'OPEN', shared: { mode: 'local-degraded' } });
    broken = false;
    breaker.reset();
    await new Promise((r) => setImmediate(r));
    expect(breaker.stats()).toMatchObject({ state: 'CLOSED', shared: { mode: 'shared' } });
    await registry.close();
  });
});

describe('a shared breaker whose bucket cannot be opened at first', () => {
  it('works on local state, opens the bucket again with backoff, then follows its peers', async () => {
    const kv = new MemoryKeyValue('bulwark_breakers');
    const clock = new TestClock(PAST_EPOCH);
    let opens = 0;
    const late = new BreakerRegistry({
      service: 'billing',
      logger,
      clock,
      keyValue: async () => {
        if (++opens <= 2) throw new Error('bucket unavailable');
        return kv;
      },
    });
    const peers = new BreakerRegistry({ service: 'billing', logger, keyValue: async () => kv });
    const opts: BreakerOptions = { shared: true, failureThreshold: 1, resetTimeoutMs: 60_000 };
    const b = late.get('stripe', opts);
    await b.ready;
    expect(b.stats().shared).toEqual({ mode: 'local-degraded' });
    const peer = peers.get('stripe', opts);
    await peer.ready;
    await peer.execute(boom).catch(() => undefined);
    expect(peer.state).toBe('OPEN');
    clock.advance(2_000); // second open fails: the wait doubles
    await until(() => opens === 2, 'the second open');
    expect(b.stats().shared).toEqual({ mode: 'local-degraded' });
    clock.advance(3_999);
    await new Promise((r) => setImmediate(r));
    expect(opens).toBe(2);
    clock.advance(1);
    await until(() => b.stats().shared?.mode === 'shared', 'the bucket opened');
    // What the peer wrote meanwhile is applied, and what follows is heard.
    expect(b.state).toBe('OPEN');
    peer.reset();
    await until(() => b.state === 'CLOSED', 'the peer reset heard');
    await Promise.all([late.close(), peers.close()]);
    expect(clock.pending).toBe(0);
  });
});

describe('shared breakers when the NATS connection is lost', () => {
  it('keep working on local state and report local-degraded', async () => {
    const bucket = `breakers_${randomUUID().slice(0, 8)}`;
    const url = inject('natsUrl');
    const [ncA, ncB] = [await connect({ servers: url }), await connect({ servers: url })];
    const [kvA, kvB] = [await openNatsKeyValue(ncA, bucket), await openNatsKeyValue(ncB, bucket)];
    const a = new BreakerRegistry({ service: 'billing', logger, keyValue: async () => kvA });
    const b = new BreakerRegistry({ service: 'billing', logger, keyValue: async () => kvB });
    const opts: BreakerOptions = { shared: true, failureThreshold: 1, resetTimeoutMs: 60_000 };
    const [ba, bb] = [a.get('stripe', opts), b.get('stripe', opts)];
    await Promise.all([ba.ready, bb.ready]);
    try {
      await ncB.close();
      await bb.execute(boom).catch(() => undefined);
      expect(bb.state).toBe('OPEN');
      await until(() => bb.stats().shared?.mode === 'local-degraded', 'local-degraded', 5_000);
      // The peer never heard of it: its own state is its own.
      expect(ba.stats()).toMatchObject({ state: 'CLOSED', shared: { mode: 'shared' } });
    } finally {
      await Promise.all([a.close(), b.close()]);
      const jsm = await jetstreamManager(ncA);
      await jsm.streams.delete(`KV_${bucket}`).catch(() => undefined);
      await ncA.close();
    }
  });
});
