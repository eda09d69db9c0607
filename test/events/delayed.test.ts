import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { describe, expect, it } from 'vitest';
import { isValidationError } from '../../src/errors.js';
import { MemoryDelayed } from '../../src/transport/memory/delayed.js';
import { PAST_EPOCH, TestClock } from '../support/clock.js';
import { testLogger, user } from '../support/events.js';
import { outbound } from '../transport/nats/helpers.js';
import { useRuntimes } from '../support/runtime.js';
import { transportCase, transportCases, type TestBus } from '../support/transports.js';
import { poll, until } from '../support/wait.js';

/** Messages stored now in one of the prefix's streams (`EVENTS`, `DELAYED`); 0 when it does not exist. */
async function storedIn(bus: TestBus, stream: 'EVENTS' | 'DELAYED'): Promise<number> {
  const nc = await connect({ servers: bus.url });
  try {
    const jsm = await jetstreamManager(nc);
    const info = await jsm.streams.info(`${bus.prefix.toUpperCase()}_${stream}`).catch(() => undefined);
    return info?.state.messages ?? 0;
  } finally {
    await nc.close();
  }
}

describe.each(transportCases)('delayed publish on $name', (c) => {
  const { runtime } = useRuntimes(c);

  it('is not delivered before delayMs, and is delivered after it', async () => {
    const rt = await runtime('shop');
    const arrived = new Map<string, number>();
    await rt.subscribe('user.created', (p) => void arrived.set(p.id, Date.now())).ready;
    const delayMs = 1_200;
    const publishedAt = Date.now();
    const receipt = await rt.publish('user.created', user('later'), { id: 'evt-later', delayMs });
    expect(receipt.id).toBe('evt-later');
    await rt.publish('user.created', user('now'));
    await until(() => arrived.has('now'), 'the undelayed event');
    expect(arrived.has('later')).toBe(false);
    await until(() => arrived.has('later'), 'the delayed event', 10_000);
    expect(arrived.get('later')! - publishedAt).toBeGreaterThanOrEqual(delayMs);
  });

  it('refuses a negative or non-finite delayMs with a ValidationError', async () => {
    const rt = await runtime('shop');
    for (const delayMs of [-1, Number.NaN, Number.POSITIVE_INFINITY]) {
      const err = await rt.publish('user.created', user('1'), { delayMs }).catch((e: unknown) => e);
      expect(isValidationError(err), String(delayMs)).toBe(true);
    }
  });
});

describe('delayed publish on NATS, across instances', () => {
  const { runtime, bus } = useRuntimes(transportCase('nats'));

  it('a runtime closed before the event is due loses nothing: another delivers it', async () => {
    const publisher = await runtime('shop');
    const delayMs = 1_500;
    const publishedAt = Date.now();
    await publisher.publish('user.created', user('1'), { id: 'evt-1', delayMs });
    // Held on the delay stream, not as a delivery of the events stream.
    expect(await storedIn(bus(), 'DELAYED')).toBe(1);
    expect(await storedIn(bus(), 'EVENTS')).toBe(0);
    await publisher.shutdown();
    expect(Date.now() - publishedAt).toBeLessThan(delayMs);
    const other = await runtime('shop');
    const arrived: number[] = [];
    await other.subscribe('user.created', () => void arrived.push(Date.now())).ready;
    await until(() => arrived.length === 1, 'the delayed event, moved by the other runtime', 15_000);
    expect(arrived[0]! - publishedAt).toBeGreaterThanOrEqual(delayMs);
    await poll(
      () => storedIn(bus(), 'DELAYED'),
      (n) => n === 0,
      'the delay stream purged',
    );
  });

  it('two runtimes running movers deliver each delayed event once per group', async () => {
    const [a, b] = [await runtime('shop'), await runtime('shop')];
    const runs = new Map<string, number>();
    const handler = (p: { id: string }) => void runs.set(p.id, (runs.get(p.id) ?? 0) + 1);
    const subs = [a.subscribe('user.created', handler), b.subscribe('user.created', handler)];
    await Promise.all(subs.map((s) => s.ready));
    const n = 50;
    await Promise.all(
      Array.from({ length: n }, (_, i) =>
        (i % 2 === 0 ? a : b).publish('user.created', user(String(i)), { delayMs: 800 + (i % 5) * 100 }),
      ),
    );
    await until(() => runs.size === n, `all ${n} delivered`, 15_000);
    // Both movers may read a due second; the events stream's dedup keeps one copy of each.
    await poll(
      () => storedIn(bus(), 'DELAYED'),
      (m) => m === 0,
      'the delay stream purged',
    );
    expect(await storedIn(bus(), 'EVENTS')).toBe(n);
    expect([...runs.values()].every((count) => count === 1)).toBe(true);
    expect(subs.reduce((sum, s) => sum + s.stats().received, 0)).toBe(n);
  });
});

describe('the memory transport’s delay heap', () => {
  const msg = (id: string) => outbound('user.created', user(id), id);

  it('releases in due order, never before the due time, with one timer at a time', () => {
    const clock = new TestClock(PAST_EPOCH);
    const released: string[] = [];
    const delayed = new MemoryDelayed(
      clock,
      (m) => void released.push(m.event.id),
      () => testLogger,
    );
    delayed.hold(msg('c'), 300);
    delayed.hold(msg('a'), 100);
    delayed.hold(msg('b'), 200);
    expect(clock.pending).toBe(1);
    clock.advance(99);
    expect(released).toEqual([]);
    clock.advance(1);
    expect(released).toEqual(['a']);
    clock.advance(200);
    expect(released).toEqual(['a', 'b', 'c']);
    expect(clock.pending).toBe(0);
  });

  it('holds a refused release and tries it again; stop() leaves no timer', () => {
    const clock = new TestClock(PAST_EPOCH);
    let refuse = true;
    const released: string[] = [];
    const delayed = new MemoryDelayed(
      clock,
      (m) => {
        if (refuse) throw new Error('backpressure');
        released.push(m.event.id);
      },
      () => testLogger,
    );
    delayed.hold(msg('a'), 10);
    clock.advance(10);
    expect(released).toEqual([]);
    expect(delayed.size).toBe(1);
    refuse = false;
    clock.advance(1_000);
    expect(released).toEqual(['a']);
    delayed.hold(msg('b'), 10);
    delayed.stop();
    expect(clock.pending).toBe(0);
    delayed.resume();
    clock.advance(10);
    expect(released).toEqual(['a', 'b']);
  });
});
