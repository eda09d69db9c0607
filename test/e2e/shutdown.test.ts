import { describe, expect, it } from 'vitest';
import { systemClock, type Clock } from '../../src/time/clock.js';
import { isClosedError } from '../../src/errors.js';
import { user } from '../support/events.js';
import { useRuntimes } from '../support/runtime.js';
import { deferred, quiet, until } from '../support/wait.js';
import { transportCases } from '../support/transports.js';

/** Counts of live handles that would keep a process running (timers, sockets, immediates). */
function resources(): Record<string, number> {
  const counts: Record<string, number> = {};
  // vitest's own test-timeout timer comes and goes; bulwark's timers are unref'd and never listed
  for (const r of process.getActiveResourcesInfo()) {
    if (r !== 'FSReqCallback' && r !== 'Timeout') counts[r] = (counts[r] ?? 0) + 1;
  }
  return counts;
}

/** The system clock, counting timers that were set and neither fired nor cleared. */
function countingClock(): Clock & { pending(): number; created(): number } {
  const live = new Set<unknown>();
  let created = 0;
  return {
    now: () => Date.now(),
    setTimeout(fn, ms) {
      created++;
      const handle: unknown = systemClock.setTimeout(() => {
        live.delete(handle);
        fn();
      }, ms);
      live.add(handle);
      return handle;
    },
    clearTimeout(handle) {
      live.delete(handle);
      systemClock.clearTimeout(handle);
    },
    pending: () => live.size,
    created: () => created,
  };
}

describe.each(transportCases)('shutdown on $name', (c) => {
  const { runtime } = useRuntimes(c);

  it('waits for in-flight handlers, loses nothing, and is safe to call twice', async () => {
    const first = await runtime('worker');
    const started: string[] = [];
    const finished: string[] = [];
    const release = deferred();
    const sub = first.subscribe(
      'user.created',
      async (p) => {
        started.push(p.id);
        await release.promise; // in flight until the subscriber drains
        finished.push(p.id);
      },
      { concurrency: 2 },
    );
    await sub.ready;
    await first.publishMany(
      Array.from({ length: 6 }, (_, i) => ({ type: 'user.created' as const, payload: user(String(i)) })),
    );
    await until(() => started.length === 2, 'two handlers in flight');
    const a = first.shutdown();
    const b = first.shutdown();
    expect(b).toBe(a);
    const finishedAtShutdown = a.then(() => [...finished]);
    await until(() => sub.status() === 'draining', 'shutdown to drain the subscriber');
    release.resolve();
    await a;
    expect((await finishedAtShutdown).sort()).toEqual(started.sort());
    expect(finished.sort()).toEqual(started.sort());
    expect(sub.status()).toBe('stopped');
    expect(isClosedError(await first.publish('user.created', user('x')).catch((e: unknown) => e))).toBe(true);

    // what the first instance never started is still there for the next instance of the group
    const second = await runtime('worker');
    const rest: string[] = [];
    await second.subscribe('user.created', (p) => void rest.push(p.id)).ready;
    await until(() => started.length + rest.length >= 6, 'the rest handled by the next instance');
    expect([...new Set([...finished, ...rest])].sort()).toEqual(['0', '1', '2', '3', '4', '5']);
  });

  it('leaves no timers, immediates or sockets behind after shutdown', async () => {
    // What an earlier test left for the next turn runs first, so that it is not counted as ours.
    await new Promise((r) => setImmediate(r));
    const before = resources();
    const clock = countingClock();
    const rt = await runtime('tidy', { clock });
    const seen: string[] = [];
    await rt.subscribe('user.created', (p) => void seen.push(p.id), { timeoutMs: 60_000 }).ready;
    await rt.subscribeBatch('availability.created', () => undefined, {
      batchSize: 10,
      batchTimeoutMs: 60_000,
    }).ready;
    await rt.publish('availability.created', { staffId: 's', day: 'mon' });
    await rt.publish('user.created', user('1'));
    await until(() => seen.length === 1, 'delivery');
    await rt.shutdown();
    // a closed socket's handle is released by libuv a tick or two after close; allow for that only
    await until(
      () => JSON.stringify(resources()) === JSON.stringify(before),
      'handles released',
      1_000,
    ).catch(() => undefined);
    expect(resources()).toEqual(before);
    expect(clock.pending()).toBe(0);
    expect(clock.created()).toBeGreaterThan(0);
  });

  it('sub.stop() is idempotent and stops deliveries to that subscriber', async () => {
    const rt = await runtime();
    const seen: string[] = [];
    const sub = rt.subscribe('user.created', (p) => void seen.push(p.id));
    await sub.ready;
    await rt.publish('user.created', user('1'));
    await until(() => seen.length === 1, 'first');
    await Promise.all([sub.stop(), sub.stop()]);
    await rt.publish('user.created', user('2'));
    // Nothing to wait for: a live subscriber gets a stored event within a few ms on either
    // transport (the first one above did), so 100 ms without it means none is listening.
    await quiet(100);
    expect(seen).toEqual(['1']);
    expect(rt.listSubscriptions()).toEqual([]);
  });
});
