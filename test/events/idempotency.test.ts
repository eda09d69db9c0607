import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { afterEach, describe, expect, it } from 'vitest';
import { isValidationError } from '../../src/errors.js';
import { fixed } from '../../src/retry/backoff.js';
import type { Subscription } from '../../src/actors/subscriber/subscriber.actor.js';
import { KvIdempotencyStore, LocalIdempotencyStore } from '../../src/actors/subscriber/idempotency-store.js';
import { MemoryKeyValue } from '../../src/transport/memory/key-value.js';
import { user } from '../support/events.js';
import { useRuntimes } from '../support/runtime.js';
import { transportCases, type TestBus } from '../support/transports.js';
import { deferred, until, waitFor } from '../support/wait.js';
import type { EventMeta } from '../../src/actors/subscriber/meta.js';

/** The idempotency buckets of a test's prefix (`KV_<prefix>_idem_<ttl>`): not among `<PREFIX>_*`. */
async function dropIdempotencyBuckets(bus: TestBus): Promise<void> {
  if (!bus.url) return;
  const nc = await connect({ servers: bus.url });
  try {
    const jsm = await jetstreamManager(nc);
    for await (const s of jsm.streams.list())
      if (s.config.name.startsWith(`KV_${bus.prefix}_idem_`)) await jsm.streams.delete(s.config.name);
  } finally {
    await nc.close();
  }
}

const sum = (subs: Subscription[], key: 'handled' | 'duplicates' | 'received') =>
  subs.reduce((n, s) => n + s.stats()[key], 0);

describe.each(transportCases)('idempotent subscribers on $name', (c) => {
  const { runtime, bus } = useRuntimes(c);
  afterEach(async () => dropIdempotencyBuckets(bus()));

  it('1,000 events each delivered twice run 1,000 handlers across two instances of a group', async () => {
    const [a, b] = [await runtime('ledger'), await runtime('ledger')];
    const runs = new Map<string, number>();
    const running = new Set<string>();
    let overlapped = 0;
    // A handler that takes a moment: the two copies of a key are in flight together, and must not run together.
    const handler = async (p: { id: string }) => {
      if (running.has(p.id)) overlapped++;
      running.add(p.id);
      await new Promise((r) => setTimeout(r, 1));
      running.delete(p.id);
      runs.set(p.id, (runs.get(p.id) ?? 0) + 1);
    };
    const idempotency = { key: (p: { id: string }) => p.id, ttlMs: 60_000 };
    const subs = [
      a.subscribe('user.created', handler, { concurrency: 16, idempotency }),
      b.subscribe('user.created', handler, { concurrency: 16, idempotency }),
    ];
    await Promise.all(subs.map((s) => s.ready));
    const n = 1_000;
    // The two copies of an event have distinct event ids (the broker stores both) and the same key,
    // and sit next to each other in the stream.
    const copies = Array.from({ length: n }, (_, i) =>
      ['first', 'second'].map((tag) => ({
        type: 'user.created' as const,
        payload: user(String(i)),
        id: `${tag}-${i}`,
      })),
    ).flat();
    for (let i = 0; i < copies.length; i += 200) await a.publishMany(copies.slice(i, i + 200));
    await waitFor(() => sum(subs, 'handled') + sum(subs, 'duplicates') === 2 * n, {
      what: 'every copy handled or skipped',
      timeoutMs: 60_000,
    });
    expect(runs.size).toBe(n);
    expect([...runs.values()].every((count) => count === 1)).toBe(true);
    expect(overlapped).toBe(0);
    expect(sum(subs, 'handled')).toBe(n);
    expect(sum(subs, 'duplicates')).toBe(n);
    expect(subs.every((s) => s.stats().handled > 0)).toBe(true);
    let counted = 0;
    for (const rt of [a, b]) {
      const text = await rt.metrics.registry.getSingleMetricAsString('bulwark_duplicates_skipped_total');
      for (const m of text.matchAll(/^bulwark_duplicates_skipped_total\{[^}]*group="ledger"[^}]*\} (\d+)$/gm))
        counted += Number(m[1]);
    }
    expect(counted).toBe(n);
  }, 90_000);

  it('a failed try may run again; once it succeeded, a duplicate is skipped', async () => {
    const rt = await runtime('ledger');
    let calls = 0;
    const sub = rt.subscribe(
      'user.created',
      () => {
        if (++calls === 1) throw new Error('first try fails');
      },
      { maxAttempts: 3, backoff: fixed({ delayMs: 20 }), idempotency: { key: (p) => p.id, ttlMs: 60_000 } },
    );
    await sub.ready;
    await rt.publish('user.created', user('7'), { id: 'one' });
    await until(() => sub.stats().handled === 1, 'the retry succeeded');
    expect(calls).toBe(2);
    await rt.publish('user.created', user('7'), { id: 'two' });
    await until(() => sub.stats().duplicates === 1, 'the duplicate skipped');
    expect(calls).toBe(2);
  });

  it('rounds spent waiting for another run of the key spend none of the attempts of the event that waited', async () => {
    const [a, b] = [await runtime('ledger'), await runtime('ledger')];
    const gate = deferred();
    const tries: string[] = [];
    // Event `slow` holds key 5 in instance a, then fails for good (one attempt); `waiting`, the same
    // key, is sent back meanwhile far more often than its two attempts, then fails once and succeeds.
    const handler = async (_: unknown, meta: EventMeta) => {
      tries.push(`${meta.id}#${meta.attempt}`);
      if (meta.id === 'slow') {
        await gate.promise;
        throw new Error('slow run failed');
      }
      if (meta.attempt === 1) throw new Error('first try of the waiting event fails');
    };
    const options = {
      concurrency: 2,
      maxAttempts: 2,
      backoff: fixed({ delayMs: 20 }),
      idempotency: { key: (p: { id: string }) => p.id, ttlMs: 60_000 },
    };
    const subA = a.subscribe('user.created', handler, options);
    await subA.ready;
    await a.publish('user.created', user('5'), { id: 'slow' });
    await until(() => tries.includes('slow#1'), 'the slow run to hold the key');
    const subB = b.subscribe('user.created', handler, options);
    await subB.ready;
    await b.publish('user.created', user('5'), { id: 'waiting' });
    await until(
      () => subA.stats().received + subB.stats().received >= 6,
      'the waiting event sent back a few times',
    );
    gate.resolve();
    await until(() => subA.stats().handled + subB.stats().handled === 1, 'the waiting event handled', 20_000);
    expect(tries.filter((t) => t.startsWith('waiting'))).toEqual(['waiting#1', 'waiting#2']);
    const dead = await a.deadLetters.list({ type: 'user.created' });
    expect(dead.map((d) => d.event.id)).toEqual(['slow']);
  }, 30_000);

  it('after ttlMs the key runs again', async () => {
    const rt = await runtime('ledger');
    const ttlMs = 500;
    const doneAt: number[] = [];
    const sub = rt.subscribe('user.created', () => void doneAt.push(Date.now()), {
      idempotency: { key: (p) => p.id, ttlMs },
    });
    await sub.ready;
    await rt.publish('user.created', user('9'), { id: 'a' });
    await until(() => sub.stats().handled === 1, 'first run');
    await rt.publish('user.created', user('9'), { id: 'b' });
    await until(() => sub.stats().duplicates === 1, 'duplicate within the ttl');
    // The mark is written just after the handler returns: wait until it is past its ttl.
    await until(() => Date.now() > doneAt[0]! + ttlMs + 50, 'the ttl to pass');
    await rt.publish('user.created', user('9'), { id: 'c' });
    await until(() => sub.stats().handled === 2, 'the key runs again');
    expect(doneAt).toHaveLength(2);
  });

  it('a key function that throws dead-letters the event with reason validation', async () => {
    const rt = await runtime('ledger');
    let calls = 0;
    const sub = rt.subscribe('user.created', () => void calls++, {
      idempotency: {
        key: (p) => {
          if (p.role === 'admin') throw new Error('admins have no key');
          return p.id;
        },
        ttlMs: 60_000,
      },
    });
    await sub.ready;
    await rt.publish('user.created', user('1', 'root', 'admin'), { id: 'bad' });
    await until(() => sub.stats().deadLettered === 1, 'dead-lettered');
    const [dead] = await rt.deadLetters.list({ type: 'user.created' });
    expect(dead?.reason).toBe('validation');
    expect(dead?.error.message).toContain('admins have no key');
    expect(calls).toBe(0);
  });

  it('refuses invalid options and subscribeBatch with a ValidationError', async () => {
    const rt = await runtime('ledger');
    const bad = () =>
      rt.subscribe('user.created', () => undefined, { idempotency: { key: (p) => p.id, ttlMs: 0 } });
    expect(bad).toThrow(/ttlMs/);
    const batch = () =>
      rt.subscribeBatch('user.created', () => undefined, {
        ...({ idempotency: { key: () => 'k', ttlMs: 1_000 } } as object),
      });
    let err: unknown;
    try {
      batch();
    } catch (e) {
      err = e;
    }
    expect(isValidationError(err)).toBe(true);
  });
});

describe('idempotency stores', () => {
  it('the in-process store evicts expired marks: it stays bounded', async () => {
    let now = 0;
    const store = new LocalIdempotencyStore(() => now);
    for (let i = 0; i < 100_000; i++) {
      now = i;
      await store.claim(`k${i}`, now, now + 10);
      await store.done(`k${i}`, now + 10);
    }
    expect(store.size).toBeLessThan(2_100);
    expect((await store.claim('k99999', now, now + 10)).state).toBe('done');
    expect((await store.claim('k0', now, now + 10)).state).toBe('run');
  });

  it.each([
    ['memory', (now: () => number) => new LocalIdempotencyStore(now)],
    ['key-value', (now: () => number) => new KvIdempotencyStore(new MemoryKeyValue('idem'), now)],
  ] as const)('%s: a claim expires; the old holder cannot release its successor', async (_, make) => {
    let now = 1_000;
    const store = make(() => now);
    const first = await store.claim('k', now, now + 100);
    expect(first.state).toBe('run');
    expect((await store.claim('k', now, now + 100)).state).toBe('busy');
    now += 101; // the first holder's lease ran out: a crashed run
    const second = await store.claim('k', now, now + 100);
    expect(second.state).toBe('run');
    if (first.state === 'run') await store.release('k', first.revision);
    expect((await store.claim('k', now, now + 100)).state).toBe('busy');
    await store.done('k', now + 1_000);
    expect((await store.claim('k', now, now + 100)).state).toBe('done');
    now += 1_001;
    expect((await store.claim('k', now, now + 100)).state).toBe('run');
  });

  it.each([
    ['memory', (now: () => number) => new LocalIdempotencyStore(now)],
    ['key-value', (now: () => number) => new KvIdempotencyStore(new MemoryKeyValue('idem'), now)],
  ] as const)(
    '%s: counts the rounds an event was sent back, apart per event, until they expire',
    async (_, make) => {
      let now = 1_000;
      const store = make(() => now);
      expect(await store.busyCount('g.t.busy.e1', now)).toBe(0);
      // Two instances counting the same event at once: both rounds count.
      expect(
        (
          await Promise.all([store.busy('g.t.busy.e1', now + 500), store.busy('g.t.busy.e1', now + 500)])
        ).sort(),
      ).toEqual([1, 2]);
      expect(await store.busy('g.t.busy.e2', now + 500)).toBe(1);
      expect(await store.busyCount('g.t.busy.e1', now)).toBe(2);
      now += 501;
      expect(await store.busyCount('g.t.busy.e1', now)).toBe(0);
      expect(await store.busy('g.t.busy.e1', now + 500)).toBe(1);
    },
  );
});
