import { randomUUID } from 'node:crypto';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { decodeLease, encodeLease, storeNow, tryAcquire } from '../../src/lock/lease.js';
import { KvConflictError, type KeyValueStore } from '../../src/transport/key-value.js';
import { MemoryKeyValue } from '../../src/transport/memory/key-value.js';
import { waitFor } from '../support/wait.js';
import { openNatsKeyValue } from '../../src/transport/nats/key-value.js';

// What leases need from a key-value store, on both stores: a delete that compares the revision,
// and each entry's write time on the store's own clock.

const bytes = (s: string) => new TextEncoder().encode(s);

let nc: NatsConnection;
const buckets: string[] = [];
beforeAll(async () => {
  nc = await connect({ servers: inject('natsUrl') });
});
afterAll(async () => {
  const jsm = await jetstreamManager(nc);
  for (const bucket of buckets) await jsm.streams.delete(`KV_${bucket}`).catch(() => undefined);
  await nc.close();
});

let fakeNow = 1_000_000;
const stores: [string, () => Promise<KeyValueStore>][] = [
  ['memory', async () => new MemoryKeyValue(`kv_${randomUUID().slice(0, 8)}`, { now: () => fakeNow })],
  [
    'nats',
    async () => {
      const bucket = `kv_${randomUUID().slice(0, 8)}`;
      buckets.push(bucket);
      return openNatsKeyValue(nc, bucket);
    },
  ],
];

describe.each(stores)('%s store under leases', (name, open) => {
  it('deletes with a revision only while the key still has it', async () => {
    const kv = await open();
    const r1 = await kv.put('k', bytes('1'));
    const r2 = await kv.update('k', bytes('2'), r1);
    await expect(kv.delete('k', r1)).rejects.toBeInstanceOf(KvConflictError);
    expect(await kv.get('k')).not.toBeNull();
    await kv.delete('k', r2);
    expect(await kv.get('k')).toBeNull();
    // a deleted key can be created again, at a larger revision
    expect(await kv.create('k', bytes('3'))).toBeGreaterThan(r2);
  });

  it("stamps each entry with the store's time of the write", async () => {
    const kv = await open();
    const before = name === 'memory' ? fakeNow : Date.now();
    await kv.put('a', bytes('x'));
    if (name === 'memory') fakeNow += 500;
    const first = (await kv.get('a'))!.created!;
    const now = await storeNow(kv);
    if (name === 'memory') {
      expect(first).toBe(before);
      expect(now).toBe(before + 500);
    } else {
      // the server runs on this machine here: its clock and ours agree to within the test's run
      expect(Math.abs(first - before)).toBeLessThan(5_000);
      expect(now).toBeGreaterThanOrEqual(first);
    }
  });

  it('takes over a lease only once it has expired on the store clock', async () => {
    const kv = await open();
    const a = await tryAcquire(kv, 'lock.x', { holder: 'a', ttlMs: 60_000 });
    expect(a.acquired).toBe(true);
    const b = await tryAcquire(kv, 'lock.x', { holder: 'b', ttlMs: 60_000 });
    expect(b).toMatchObject({ acquired: false });
    expect(b.acquired === false && b.leftMs).toBeGreaterThan(50_000);
    // an entry that is not a lease is taken at once; the new token is larger
    await kv.put('lock.y', bytes('garbage'));
    const y = await tryAcquire(kv, 'lock.y', { holder: 'c', ttlMs: 1_000 });
    expect(y.acquired && y.revision).toBeGreaterThan(a.acquired ? a.revision : Infinity);
    expect(decodeLease((await kv.get('lock.y'))!.value)).toEqual({ holder: 'c', ttlMs: 1_000 });
    expect(decodeLease(encodeLease({ holder: 'h', ttlMs: 5 }))).toEqual({ holder: 'h', ttlMs: 5 });
  });

  it('a lease expires ttlMs after its last write, on the store clock', async () => {
    const kv = await open();
    await tryAcquire(kv, 'lock.z', { holder: 'a', ttlMs: 40 });
    const first = (await kv.get('lock.z'))!;
    let taken: Awaited<ReturnType<typeof tryAcquire>> | undefined;
    await waitFor(
      async () => {
        if (name === 'memory') fakeNow += 10;
        taken = await tryAcquire(kv, 'lock.z', { holder: 'b', ttlMs: 40 });
        return taken.acquired;
      },
      { what: 'the expired lease taken over' },
    );
    const second = (await kv.get('lock.z'))!;
    expect(decodeLease(second.value).holder).toBe('b');
    expect(second.created! - first.created!).toBeGreaterThanOrEqual(40);
  });
});
