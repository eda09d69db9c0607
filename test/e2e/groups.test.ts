import { describe, expect, it } from 'vitest';
import { user } from '../support/events.js';
import { useRuntimes } from '../support/runtime.js';
import { deferred, until } from '../support/wait.js';
import { transportCases } from '../support/transports.js';

describe.each(transportCases)('groups and broadcast on $name', (c) => {
  const { runtime } = useRuntimes(c);

  it('competing consumers in one group share the events: each handled exactly once', async () => {
    const [a, b] = [await runtime('mailer'), await runtime('mailer')];
    const byA: string[] = [];
    const byB: string[] = [];
    // Each instance's first events wait until the other has one too: a busy instance leaves the rest to its peer.
    const bothWorking = deferred();
    const busy = (into: string[]) => async (p: { id: string }) => {
      into.push(p.id);
      if (byA.length > 0 && byB.length > 0) bothWorking.resolve();
      await bothWorking.promise;
    };
    const subs = [
      a.subscribe('user.created', busy(byA), { concurrency: 2 }),
      b.subscribe('user.created', busy(byB), { concurrency: 2 }),
    ];
    await Promise.all(subs.map((s) => s.ready));
    await a.publishMany(
      Array.from({ length: 60 }, (_, i) => ({ type: 'user.created' as const, payload: user(String(i)) })),
    );
    // Every delivery acked: the broker has nothing left to deliver again.
    const sum = (key: 'handled' | 'received') => subs.reduce((n, s) => n + s.stats()[key], 0);
    await until(() => sum('handled') === 60, 'all 60 handled and acked');
    expect(sum('received')).toBe(60);
    const all = [...byA, ...byB].sort((x, y) => Number(x) - Number(y));
    expect(all).toEqual(Array.from({ length: 60 }, (_, i) => String(i)));
    expect(byA.length).toBeGreaterThan(0);
    expect(byB.length).toBeGreaterThan(0);
  });

  it('broadcast delivers every event to every instance', async () => {
    const [a, b] = [await runtime('cache'), await runtime('cache')];
    const byA: string[] = [];
    const byB: string[] = [];
    await a.subscribe('user.created', (p) => void byA.push(p.id), { mode: 'broadcast' }).ready;
    await b.subscribe('user.created', (p) => void byB.push(p.id), { mode: 'broadcast' }).ready;
    await a.publishMany(
      Array.from({ length: 10 }, (_, i) => ({ type: 'user.created' as const, payload: user(String(i)) })),
    );
    await until(() => byA.length === 10 && byB.length === 10, 'both instances got all 10');
    expect(byA).toEqual(byB);
  });

  it('different groups each receive every event', async () => {
    const rt = await runtime('accounts');
    const mailer: string[] = [];
    const audit: string[] = [];
    await rt.subscribe('user.created', (p) => void mailer.push(p.id), { group: 'mailer' }).ready;
    await rt.subscribe('user.created', (p) => void audit.push(p.id), { group: 'audit' }).ready;
    await rt.publish('user.created', user('1'));
    await rt.publish('user.created', user('2'));
    await until(() => mailer.length === 2 && audit.length === 2, 'both groups');
    expect(mailer).toEqual(['1', '2']);
    expect(audit).toEqual(['1', '2']);
  });
});
