import { afterEach, describe, expect, it } from 'vitest';
import { isBackpressureError } from '../../src/errors.js';
import { createRuntime } from '../../src/runtime/create-runtime.js';
import type { Runtime } from '../../src/runtime/runtime.js';
import { memoryTransport, type MemoryTransport } from '../../src/transport/memory/memory-transport.js';
import { testEvents, testLogger, user } from '../support/events.js';
import { until } from '../support/wait.js';

const MAX_BACKLOG = 1_000;

describe('memory transport: a group that stops reading bounds its backlog', () => {
  let rt: Runtime<typeof testEvents.schemas> | undefined;
  afterEach(async () => {
    await rt?.shutdown();
    rt = undefined;
  });

  async function start(): Promise<{ bus: MemoryTransport; rt: Runtime<typeof testEvents.schemas> }> {
    const bus = memoryTransport({ maxBacklog: MAX_BACKLOG });
    rt = await createRuntime({ service: 'accounts', events: testEvents, transport: bus, logger: testLogger });
    return { bus, rt };
  }

  it('refuses publishes of its type at maxBacklog, keeps other types, and loses nothing once drained', async () => {
    const { bus, rt } = await start();
    const handled: string[] = [];
    const handler = (p: { id: string }): void => void handled.push(p.id);
    // The mailer group reads, then its only subscriber stops: the group keeps its place.
    const first = rt.subscribe('user.created', handler, { group: 'mailer' });
    await first.ready;
    await first.stop();

    const published: string[] = [];
    for (let i = 0; i < MAX_BACKLOG; i++) {
      await rt.publish('user.created', user(String(i)));
      published.push(String(i));
    }
    expect(bus.usage('user.created').pending).toBe(MAX_BACKLOG);
    const refused = await rt.publish('user.created', user('over')).catch((e: unknown) => e);
    expect(isBackpressureError(refused)).toBe(true);
    expect((refused as Error).message).toBe(
      'publishes of "user.created" are refused: group "mailer" is 1,000 events behind (maxBacklog 1,000); ' +
        'they resume once it is back to 750',
    );
    expect(bus.usage('user.created').pending).toBe(MAX_BACKLOG); // nothing stored

    // Another type has nobody behind: it keeps publishing.
    await rt.publish('availability.created', { staffId: 's1', day: 'mon' });
    const status = bus.status();
    expect(status.storing).toBe(false);
    expect(status.notStoringSince).toEqual(expect.any(Number));
    expect(status.reason).toContain('group "mailer"');

    // A subscriber of the group drains the backlog: publishing works again.
    await rt.subscribe('user.created', handler, { group: 'mailer', concurrency: 16 }).ready;
    await until(() => handled.length === MAX_BACKLOG, 'the backlog drained');
    expect(bus.status()).toMatchObject({ storing: true });
    expect(bus.status().reason).toBeUndefined();
    await rt.publish('user.created', user('after'));
    published.push('after');
    await until(() => handled.length === published.length, 'the publish after the drain handled');
    expect(handled.sort()).toEqual(published.sort());
  });

  it('tells status listeners when publishes stop and resume being stored', async () => {
    const { bus, rt } = await start();
    const seen: boolean[] = [];
    const off = bus.onStatus((s) => seen.push(s.storing));
    const sub = rt.subscribe('user.created', () => undefined, { group: 'mailer' });
    await sub.ready;
    await sub.stop();
    for (let i = 0; i < MAX_BACKLOG; i++) await rt.publish('user.created', user(String(i)));
    for (let i = 0; i < 3; i++) await rt.publish('user.created', user('over')).catch(() => undefined);
    expect(seen).toEqual([false]); // one change, however many refusals
    await rt.subscribe('user.created', () => undefined, { group: 'mailer', concurrency: 16 }).ready;
    await until(() => seen.length === 2, 'the resume');
    expect(seen).toEqual([false, true]);
    off();
  });

  it('keeps refusing until the laggard is back to three quarters of the bound, so publishers do not flap', async () => {
    const { bus, rt } = await start();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const handled: string[] = [];
    const sub = rt.subscribe('user.created', () => undefined, { group: 'mailer' });
    await sub.ready;
    await sub.stop();
    for (let i = 0; i < MAX_BACKLOG; i++) await rt.publish('user.created', user(String(i)));
    await expect(rt.publish('user.created', user('over'))).rejects.toThrow(/refused/);
    // One instance takes a single event and holds it: one behind the bound is not enough to resume.
    await rt.subscribe(
      'user.created',
      async (p) => {
        handled.push(p.id);
        await gate;
      },
      { group: 'mailer', concurrency: 1 },
    ).ready;
    await until(() => handled.length === 1, 'the first event taken');
    await expect(rt.publish('user.created', user('still-over'))).rejects.toThrow(/refused/);
    expect(bus.status().storing).toBe(false);
    release();
    await until(() => bus.status().storing, 'back under the low-water mark');
    expect(bus.usage('user.created').pending).toBeLessThanOrEqual(MAX_BACKLOG * 0.75);
  });
});
