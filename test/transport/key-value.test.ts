import { randomUUID } from 'node:crypto';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { KvConflictError, type KeyValueStore, type KvEntry } from '../../src/transport/key-value.js';
import { MemoryKeyValue } from '../../src/transport/memory/key-value.js';
import { openNatsKeyValue } from '../../src/transport/nats/key-value.js';

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (e: KvEntry | null) => (e ? new TextDecoder().decode(e.value) : null);

/** Resolves with the first `n` entries `watch` delivers. */
function collect(kv: KeyValueStore, key: string, n: number) {
  const seen: KvEntry[] = [];
  let done!: (entries: KvEntry[]) => void;
  const all = new Promise<KvEntry[]>((r) => (done = r));
  const watch = kv.watch(key, (e) => {
    seen.push(e);
    if (seen.length === n) done(seen);
  });
  return { all, watch, seen };
}

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

const stores: [string, () => Promise<KeyValueStore>][] = [
  ['memory', async () => new MemoryKeyValue(`kv_${randomUUID().slice(0, 8)}`)],
  [
    'nats',
    async () => {
      const bucket = `kv_${randomUUID().slice(0, 8)}`;
      buckets.push(bucket);
      return openNatsKeyValue(nc, bucket);
    },
  ],
];

describe.each(stores)('%s key-value store', (_name, open) => {
  it('put / get / keys / delete, with revisions that only grow', async () => {
    const kv = await open();
    expect(await kv.get('a.b')).toBeNull();
    const r1 = await kv.put('a.b', bytes('one'));
    const r2 = await kv.put('a.c', bytes('two'));
    const r3 = await kv.put('a.b', bytes('three'));
    expect(r1).toBeLessThan(r2);
    expect(r2).toBeLessThan(r3);
    const entry = await kv.get('a.b');
    expect(text(entry)).toBe('three');
    expect(entry).toMatchObject({ key: 'a.b', revision: r3, operation: 'PUT' });
    expect((await kv.keys()).sort()).toEqual(['a.b', 'a.c']);
    await kv.delete('a.b');
    expect(await kv.get('a.b')).toBeNull();
    expect(await kv.keys()).toEqual(['a.c']);
  });

  it('create writes only a missing key', async () => {
    const kv = await open();
    await kv.create('k', bytes('1'));
    await expect(kv.create('k', bytes('2'))).rejects.toBeInstanceOf(KvConflictError);
    expect(text(await kv.get('k'))).toBe('1');
  });

  it('update is a compare-and-set on the revision: one of two racing writers wins', async () => {
    const kv = await open();
    const rev = await kv.put('claim', bytes('free'));
    const results = await Promise.allSettled([
      kv.update('claim', bytes('A'), rev),
      kv.update('claim', bytes('B'), rev),
    ]);
    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.filter((r) => r.status === 'rejected');
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(1);
    expect((lost[0] as PromiseRejectedResult).reason).toBeInstanceOf(KvConflictError);
    expect(['A', 'B']).toContain(text(await kv.get('claim')));
  });

  it('watch delivers later changes to matching keys only, until stopped', async () => {
    const kv = await open();
    await kv.put('svc.before', bytes('old'));
    const { all, watch } = collect(kv, 'svc.*', 2);
    await watch.ready;
    await kv.put('other.x', bytes('no'));
    await kv.put('svc.a', bytes('1'));
    await kv.delete('svc.a');
    const entries = await all;
    expect(entries.map((e) => [e.key, e.operation])).toEqual([
      ['svc.a', 'PUT'],
      ['svc.a', 'DEL'],
    ]);
    watch.stop();
    const exact = collect(kv, 'svc.b', 1);
    await exact.watch.ready;
    await kv.put('svc.c', bytes('no'));
    await kv.put('svc.b', bytes('yes'));
    expect((await exact.all).map(text)).toEqual(['yes']);
    exact.watch.stop();
  });
});
