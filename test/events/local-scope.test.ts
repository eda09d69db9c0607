import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineEvents } from '../../src/events/registry.js';
import { fixed } from '../../src/retry/backoff.js';
import { createRuntime } from '../../src/runtime/create-runtime.js';
import type { Runtime } from '../../src/runtime/runtime.js';
import type { MemoryTransport } from '../../src/transport/memory/memory-transport.js';
import { testLogger } from '../support/events.js';
import { transportCases, type TestBus, type TransportCase } from '../support/transports.js';
import { poll, until } from '../support/wait.js';

const events = defineEvents({
  'cache.invalidated': { schema: z.object({ key: z.string() }), scope: 'local' },
  'cache.warmed': z.object({ key: z.string() }),
  'user.created': z.object({ id: z.string() }),
});

type LocalRuntime = Runtime<typeof events.schemas>;

/** Events of `type` stored by the broker of the bus (NATS: the events stream; memory: the shared transport). */
async function brokerCount(c: TransportCase, bus: TestBus, type: string): Promise<number> {
  if (c.name === 'memory') {
    const usage = (bus.transport() as MemoryTransport).usage(type);
    return usage.retained + usage.pending;
  }
  const nc = await connect({ servers: bus.url });
  try {
    const jsm = await jetstreamManager(nc);
    const subject = `${bus.prefix}.events.${type}`;
    const info = await jsm.streams.info(`${bus.prefix.toUpperCase()}_EVENTS`, { subjects_filter: subject });
    return info.state.subjects?.[subject] ?? 0;
  } finally {
    await nc.close();
  }
}

/** Messages in the broker's dead-letter store (NATS: every DLQ stream of the prefix). */
async function brokerDeadLetters(c: TransportCase, bus: TestBus): Promise<number> {
  if (c.name === 'memory') return (await bus.transport().deadLetters.list({ limit: 1_000 })).length;
  const nc = await connect({ servers: bus.url });
  try {
    const jsm = await jetstreamManager(nc);
    let total = 0;
    for await (const s of jsm.streams.list()) {
      if (s.config.name.startsWith(`${bus.prefix.toUpperCase()}_DLQ`)) total += s.state.messages;
    }
    return total;
  } finally {
    await nc.close();
  }
}

describe.each(transportCases)('scope local events on $name', (c) => {
  let bus: TestBus | undefined;
  const runtimes: LocalRuntime[] = [];
  afterEach(async () => {
    await Promise.all(runtimes.splice(0).map((rt) => rt.shutdown()));
    await bus?.dispose();
    bus = undefined;
  });
  const runtime = async (service = 'cache'): Promise<LocalRuntime> => {
    bus ??= c.bus();
    const rt = await createRuntime({
      service,
      events,
      transport: bus.transport(),
      logger: testLogger,
      handleSignals: false,
    });
    runtimes.push(rt);
    return rt;
  };

  it('delivers a local event in this process and never sends it to the broker', async () => {
    const rt = await runtime();
    const other = await runtime('other-instance');
    const seen: string[] = [];
    const elsewhere: string[] = [];
    const warmed: string[] = [];
    await rt.subscribe('cache.invalidated', (p) => void seen.push(p.key)).ready;
    await other.subscribe('cache.invalidated', (p) => void elsewhere.push(p.key)).ready;
    await other.subscribe('cache.warmed', (p) => void warmed.push(p.key)).ready;
    for (let i = 0; i < 5; i++) await rt.publish('cache.invalidated', { key: `k${i}` });
    await rt.publishMany([
      { type: 'cache.invalidated', payload: { key: 'k5' } },
      { type: 'cache.warmed', payload: { key: 'w' } },
    ]);
    await until(() => seen.length === 6 && warmed.length === 1, 'local and remote deliveries');
    expect(seen).toEqual(['k0', 'k1', 'k2', 'k3', 'k4', 'k5']);
    expect(await brokerCount(c, bus!, 'cache.invalidated')).toBe(0);
    expect(await brokerCount(c, bus!, 'cache.warmed')).toBe(1);
    // Another runtime on the same broker is another process as far as local events go; a
    // remote event reached it above, so a local one would have had time to arrive as well.
    expect(elsewhere).toEqual([]);
  });

  it('retries a failing handler of a local event, dead-letters it locally and redrives it locally', async () => {
    const rt = await runtime();
    let broken = true;
    const attempts: number[] = [];
    const handled: string[] = [];
    await rt.subscribe(
      'cache.invalidated',
      (p, meta) => {
        attempts.push(meta.attempt);
        if (broken) throw new Error('cache unreachable');
        handled.push(p.key);
      },
      { maxAttempts: 3, backoff: fixed({ delayMs: 5 }) },
    ).ready;
    const { id } = await rt.publish('cache.invalidated', { key: 'users' });
    const [dl] = await poll(
      () => rt.deadLetters.list(),
      (d) => d.length === 1,
      'local dead letter',
    );
    expect(attempts).toEqual([1, 2, 3]);
    expect(dl).toMatchObject({ reason: 'handler', attempts: 3, group: 'cache', event: { id } });
    expect(dl!.id).toMatch(/^local:/);
    expect(await rt.deadLetters.get(dl!.id)).toMatchObject({ id: dl!.id, event: { id } });
    expect(await rt.deadLetters.count({ type: 'cache.invalidated' })).toBe(1);
    expect(await rt.deadLetters.count({ type: 'cache.warmed' })).toBe(0);
    expect(await brokerDeadLetters(c, bus!)).toBe(0);

    broken = false;
    expect(await rt.deadLetters.redrive({ ids: [dl!.id] })).toEqual({ redriven: 1 });
    await until(() => handled.length === 1, 'redriven local event handled');
    expect(handled).toEqual(['users']);
    expect(await rt.deadLetters.list()).toEqual([]);
    expect(await brokerCount(c, bus!, 'cache.invalidated')).toBe(0);
  });

  it('lists local and remote dead letters together and purges each where it lives', async () => {
    const rt = await runtime();
    const fail = (): never => {
      throw new Error('down');
    };
    await rt.subscribe('cache.invalidated', fail, { maxAttempts: 1 }).ready;
    await rt.subscribe('cache.warmed', fail, { maxAttempts: 1 }).ready;
    await rt.publish('cache.invalidated', { key: 'a' });
    await rt.publish('cache.warmed', { key: 'b' });
    const dead = await poll(
      () => rt.deadLetters.list(),
      (d) => d.length === 2,
      'one dead letter on each side',
    );
    expect(dead.map((d) => d.event.type).sort()).toEqual(['cache.invalidated', 'cache.warmed']);
    expect(dead.filter((d) => d.id.startsWith('local:')).map((d) => d.event.type)).toEqual([
      'cache.invalidated',
    ]);
    expect(await brokerDeadLetters(c, bus!)).toBe(1);
    const remote = dead.find((d) => d.event.type === 'cache.warmed')!;
    // A remote id names only the remote record, even where the local store has a record of that number.
    expect(await rt.deadLetters.purge({ ids: [remote.id] })).toEqual({ purged: 1 });
    expect((await rt.deadLetters.list()).map((d) => d.event.type)).toEqual(['cache.invalidated']);
    expect(await rt.deadLetters.purge()).toEqual({ purged: 1 });
    expect(await rt.deadLetters.count()).toBe(0);
  });

  it('consumes a pattern that spans local and remote types from both sides', async () => {
    const rt = await runtime();
    const seen: string[] = [];
    await rt.subscribe('cache.*', (p, meta) => void seen.push(`${meta.type}:${p.key}`), { group: 'audit' })
      .ready;
    await rt.publish('cache.invalidated', { key: 'a' });
    await rt.publish('cache.warmed', { key: 'b' });
    await until(() => seen.length === 2, 'both types through one pattern subscription');
    expect(seen.sort()).toEqual(['cache.invalidated:a', 'cache.warmed:b']);
    expect(await brokerCount(c, bus!, 'cache.invalidated')).toBe(0);
  });

  it('leaves the transport as it is when no type is local', async () => {
    bus ??= c.bus();
    const transport = bus.transport();
    const remoteOnly = defineEvents({ 'user.created': z.object({ id: z.string() }) });
    const rt = await createRuntime({
      service: 'plain',
      events: remoteOnly,
      transport,
      logger: testLogger,
      handleSignals: false,
    });
    try {
      expect(rt.transport).toBe(transport);
    } finally {
      await rt.shutdown();
    }
  });

  it('keeps job queues and status on the remote transport', async () => {
    const rt = await runtime();
    expect(rt.transport.kind).toBe(c.name);
    expect(rt.transport.status().kind).toBe(c.name);
    const q = rt.queue<{ n: number }>('local-scope-jobs');
    const done: number[] = [];
    q.process(async (job) => void done.push(job.data.n));
    await q.add('one', { n: 1 });
    await until(() => done.length === 1, 'job on the remote queue store');
  });
});
