import { spawn } from 'node:child_process';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { afterEach, describe, expect, it } from 'vitest';
import { isClosedError, isLockLostError, isValidationError } from '../../src/errors.js';
import { locksBucket } from '../../src/lock/lease.js';
import type { Lock } from '../../src/lock/lock.js';
import { useRuntimes, type TestRuntime } from '../support/runtime.js';
import { transportCase, transportCases, type TestBus } from '../support/transports.js';
import { until, within } from '../support/wait.js';

/** Removes the locks bucket a NATS test made (the bus drops only `<PREFIX>_*` streams). */
async function dropLocks(bus: TestBus): Promise<void> {
  if (!bus.url) return;
  const nc = await connect({ servers: bus.url });
  try {
    await (await jetstreamManager(nc)).streams.delete(`KV_${locksBucket(bus.prefix)}`).catch(() => false);
  } finally {
    await nc.close();
  }
}

/** The bucket the runtime's locks live in, to play another writer. */
const bucketOf = (rt: TestRuntime) => rt.transport.keyValue(locksBucket(rt.transport.namespace));

const aborted = (signal: AbortSignal) =>
  new Promise<unknown>((r) => signal.addEventListener('abort', () => r(signal.reason)));

describe.each(transportCases)('locks on $name', (c) => {
  const { runtime, bus } = useRuntimes(c);
  afterEach(async () => dropLocks(bus()));

  it('has one holder: a second taker gets null, then a larger token once it is released', async () => {
    const a = await runtime('a');
    const b = await runtime('b');
    const first = (await a.lock('report', { ttlMs: 5_000 }))!;
    expect(first.token).toBeGreaterThan(0);
    expect(await b.lock('report', { ttlMs: 5_000 })).toBeNull();
    expect(await a.lock('report', { ttlMs: 5_000 })).toBeNull(); // not re-entrant
    const released = first.release();
    expect(first.release()).toBe(released);
    await released;
    const second = (await b.lock('report', { ttlMs: 5_000 }))!;
    expect(second.token).toBeGreaterThan(first.token);
    expect(first.signal.aborted).toBe(false);
    await expect(first.extend()).rejects.toSatisfy(isLockLostError);
    await first.release(); // a released lock does not release its successor's lease
    expect(await a.lock('report', { ttlMs: 5_000 })).toBeNull();
    await second.release();
  });

  it('waits for a release up to waitMs, and gives up after it', async () => {
    const a = await runtime('a');
    const b = await runtime('b');
    const held = (await a.lock('w', { ttlMs: 5_000 }))!;
    const started = Date.now();
    expect(await b.lock('w', { ttlMs: 5_000, waitMs: 150 })).toBeNull();
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    const waiting = b.lock('w', { ttlMs: 5_000, waitMs: 10_000 });
    await held.release();
    const next = (await within(waiting, { what: 'the waiting taker' }))!;
    expect(next.token).toBeGreaterThan(held.token);
    await next.release();
  });

  it('two runtimes race 1,000 times for one lock: never two holders, tokens only grow', async () => {
    const a = await runtime('a');
    const b = await runtime('b');
    const target = 1_000;
    let holding = false;
    let overlaps = 0;
    const tokens: number[] = [];
    const wins = new Map<string, number>();
    const race = async (rt: TestRuntime) => {
      while (tokens.length < target) {
        await rt.withLock(
          'race',
          async (_signal, token) => {
            if (holding) overlaps++;
            holding = true;
            tokens.push(token);
            wins.set(rt.service, (wins.get(rt.service) ?? 0) + 1);
            await new Promise((r) => setImmediate(r)); // let the other runtime try meanwhile
            holding = false;
          },
          { ttlMs: 2_000, waitMs: 2_000 },
        );
        await new Promise((r) => setImmediate(r)); // and give it a fair chance after the release
      }
    };
    await within(Promise.all([race(a), race(b)]), { timeoutMs: 60_000, what: '1,000 acquisitions' });
    expect(overlaps).toBe(0);
    expect(tokens.length).toBeGreaterThanOrEqual(target);
    for (let i = 1; i < tokens.length; i++) expect(tokens[i]).toBeGreaterThan(tokens[i - 1]!);
    expect(wins.get('a')).toBeGreaterThan(0);
    expect(wins.get('b')).toBeGreaterThan(0);
  }, 90_000);

  it('renews the lease while held: it outlives several ttls', async () => {
    const a = await runtime('a');
    const b = await runtime('b');
    const lock = (await a.lock('long', { ttlMs: 150 }))!;
    const until600 = Date.now() + 600;
    while (Date.now() < until600) {
      expect(await b.lock('long', { ttlMs: 150 })).toBeNull();
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(lock.signal.aborted).toBe(false);
    await lock.release();
  });

  it('aborts the signal with LockLostError when another writer takes the lease', async () => {
    const a = await runtime('a');
    const lock = (await a.lock('stolen', { ttlMs: 300 }))!;
    const kv = await bucketOf(a);
    await kv.put(
      'lock.stolen',
      new TextEncoder().encode(JSON.stringify({ holder: 'intruder', ttlMs: 60_000 })),
    );
    const reason = await within(aborted(lock.signal), { what: 'the lost lease' });
    expect(isLockLostError(reason)).toBe(true);
    expect(reason).toMatchObject({ lock: 'stolen', token: lock.token });
    await expect(lock.extend()).rejects.toSatisfy(isLockLostError);
    await lock.release();
    const left = (await kv.get('lock.stolen'))!;
    expect(JSON.parse(new TextDecoder().decode(left.value))).toEqual({ holder: 'intruder', ttlMs: 60_000 });
  });

  it('withLock returns what fn returns, null when held elsewhere, and throws LockLostError when the lease was lost', async () => {
    const a = await runtime('a');
    const b = await runtime('b');
    expect(await a.withLock('job', async (_s, token) => token, { ttlMs: 1_000 })).toBeGreaterThan(0);
    const held = (await b.lock('job', { ttlMs: 1_000 }))!;
    expect(await a.withLock('job', async () => 'ran', { ttlMs: 1_000 })).toBeNull();
    await held.release();
    const kv = await bucketOf(a);
    const lost = a.withLock(
      'job',
      async (signal) => {
        await kv.put('lock.job', new TextEncoder().encode('{}'));
        await aborted(signal);
        return 'finished anyway';
      },
      { ttlMs: 150 },
    );
    await expect(within(lost, { what: 'withLock' })).rejects.toSatisfy(isLockLostError);
  });

  it('extend renews now with a new ttl', async () => {
    const a = await runtime('a');
    const b = await runtime('b');
    const lock = (await a.lock('ext', { ttlMs: 100 }))!;
    await lock.extend(5_000);
    await expect(lock.extend(1)).rejects.toSatisfy(isValidationError);
    expect(await b.lock('ext', { ttlMs: 100 })).toBeNull();
    await lock.release();
  });

  it('shutdown releases held locks and aborts their signals; a later lock throws ClosedError', async () => {
    const a = await runtime('a');
    const b = await runtime('b');
    const lock = (await a.lock('closing', { ttlMs: 60_000 }))!;
    await a.shutdown();
    expect(isLockLostError(lock.signal.reason)).toBe(true);
    const next = (await b.lock('closing', { ttlMs: 1_000 }))!;
    expect(next).not.toBeNull();
    await next.release();
    await expect(a.lock('closing', { ttlMs: 1_000 })).rejects.toSatisfy(isClosedError);
  });

  it('refuses bad names and options with a ValidationError', async () => {
    const a = await runtime('a');
    await expect(a.lock('bad name', { ttlMs: 1_000 })).rejects.toSatisfy(isValidationError);
    await expect(a.lock('x.', { ttlMs: 1_000 })).rejects.toSatisfy(isValidationError);
    await expect(a.lock('ok', { ttlMs: 5 })).rejects.toSatisfy(isValidationError);
    await expect(a.lock('ok', { ttlMs: 1_000, waitMs: -1 })).rejects.toSatisfy(isValidationError);
  });
});

describe('locks across processes on NATS', () => {
  const { runtime, bus } = useRuntimes(transportCase('nats'));
  afterEach(async () => dropLocks(bus()));

  it('a SIGKILLed holder: its lease expires after ttl and the next holder gets a larger token', async () => {
    const rt = await runtime('next');
    const { url, prefix } = bus();
    const ttlMs = 1_000;
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'test/fixtures/lock-holder.ts', url, prefix, 'nightly', String(ttlMs)],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    try {
      await until(() => /^held \d+$/m.test(out), 'the child holding the lock', 20_000);
      const childToken = Number(/^held (\d+)$/m.exec(out)![1]);
      // Renewed by the child: still held after more than one ttl.
      const heldUntil = Date.now() + ttlMs * 1.5;
      while (Date.now() < heldUntil) {
        expect(await rt.lock('nightly', { ttlMs })).toBeNull();
        await new Promise((r) => setTimeout(r, 100));
      }
      child.kill('SIGKILL');
      await exited;
      const killedAt = Date.now();
      const lock: Lock | null = await rt.lock('nightly', { ttlMs, waitMs: 10_000 });
      expect(lock).not.toBeNull();
      expect(lock!.token).toBeGreaterThan(childToken);
      // Not before the dead holder's last renewal plus ttl: at least two thirds of a ttl after the kill.
      expect(Date.now() - killedAt).toBeGreaterThanOrEqual((ttlMs * 2) / 3 - 50);
      await lock!.release();
    } finally {
      child.kill('SIGKILL');
    }
  }, 40_000);

  it('a holder cut off from NATS loses the lease when it cannot renew it in time', async () => {
    const a = await runtime('a');
    const lock = (await a.lock('cut', { ttlMs: 300 }))!;
    await a.transport.close();
    const reason = await within(aborted(lock.signal), { what: 'the expired lease' });
    expect(isLockLostError(reason)).toBe(true);
    expect((reason as Error).message).toMatch(/expired before it could be renewed/);
  });
});
