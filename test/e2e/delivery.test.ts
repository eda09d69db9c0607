import { describe, expect, it } from 'vitest';
import { isValidationError } from '../../src/errors.js';
import type { EventMeta } from '../../src/actors/subscriber/meta.js';
import { useRuntimes } from '../support/runtime.js';
import { user } from '../support/events.js';
import { deferred, Gate, releaseInRounds, until } from '../support/wait.js';
import { transportCases } from '../support/transports.js';

describe.each(transportCases)('delivery on $name', (c) => {
  const { runtime } = useRuntimes(c);

  it('delivers a published event with its CloudEvent metadata', async () => {
    const rt = await runtime();
    const got = deferred<{ payload: unknown; meta: EventMeta }>();
    const sub = rt.subscribe('user.created', (payload, meta) => got.resolve({ payload, meta }));
    await sub.ready;
    const receipt = await rt.publish('user.created', user('1', 'ada'), {
      id: 'evt-1',
      headers: { 'x-tenant': 't1' },
    });
    expect(receipt.id).toBe('evt-1');
    const { payload, meta } = await got.promise;
    expect(payload).toEqual({ id: '1', username: 'ada', role: 'user' });
    expect(meta).toMatchObject({
      id: 'evt-1',
      type: 'user.created',
      source: 'accounts',
      attempt: 1,
      group: 'accounts',
    });
    expect(meta.headers['x-tenant']).toBe('t1');
    expect(meta.subject).toMatch(/\.events\.user\.created$/);
    expect(Date.parse(meta.time)).not.toBeNaN();
  });

  it('refuses an invalid payload with the zod issues and publishes nothing', async () => {
    const rt = await runtime();
    const seen: unknown[] = [];
    await rt.subscribe('user.created', (p) => void seen.push(p)).ready;
    const err = await rt
      .publish('user.created', { id: 1, username: 'ada', role: 'root' } as never)
      .catch((e: unknown) => e);
    expect(isValidationError(err)).toBe(true);
    expect((err as { issues: { path: PropertyKey[] }[] }).issues.map((i) => i.path[0]).sort()).toEqual([
      'id',
      'role',
    ]);
    const unknown = await rt.publish('user.deleted' as never, {} as never).catch((e: unknown) => e);
    expect(isValidationError(unknown)).toBe(true);
    await rt.publish('user.created', user('ok'));
    await until(() => seen.length === 1, 'the valid event');
    expect(seen).toEqual([user('ok')]);
  });

  it('reports a re-published id as duplicate and delivers it once', async () => {
    const rt = await runtime();
    const seen: string[] = [];
    await rt.subscribe('user.created', (_p, meta) => void seen.push(meta.id)).ready;
    const first = await rt.publish('user.created', user('1'), { id: 'same' });
    const second = await rt.publish('user.created', user('1'), { id: 'same' });
    await rt.publish('user.created', user('2'), { id: 'other' });
    expect(first.duplicate).toBeFalsy();
    expect(second.duplicate).toBe(true);
    await until(() => seen.length === 2, 'two deliveries');
    expect(seen).toEqual(['same', 'other']);
  });

  it('publishMany stores every event in order, or none when one is invalid', async () => {
    const rt = await runtime();
    const seen: string[] = [];
    await rt.subscribe('user.created', (p) => void seen.push(p.id)).ready;
    const bad = await rt
      .publishMany([
        { type: 'user.created', payload: user('a') },
        { type: 'user.created', payload: { id: 'b' } as never },
      ])
      .catch((e: unknown) => e);
    expect(isValidationError(bad)).toBe(true);
    const receipts = await rt.publishMany(
      Array.from({ length: 50 }, (_, i) => ({ type: 'user.created' as const, payload: user(String(i)) })),
    );
    expect(receipts).toHaveLength(50);
    await until(() => seen.length === 50, '50 deliveries');
    expect(seen).toEqual(Array.from({ length: 50 }, (_, i) => String(i)));
  });

  it('runs up to `concurrency` handlers at once, never more', async () => {
    const rt = await runtime();
    let active = 0;
    let peak = 0;
    let done = 0;
    const gate = new Gate();
    await rt.subscribe(
      'user.created',
      async () => {
        peak = Math.max(peak, ++active);
        await gate.pass();
        active--;
        done++;
      },
      { concurrency: 4 },
    ).ready;
    await rt.publishMany(
      Array.from({ length: 20 }, (_, i) => ({ type: 'user.created' as const, payload: user(String(i)) })),
    );
    await releaseInRounds(gate, 20, 4);
    await until(() => done === 20, '20 handled');
    expect(peak).toBe(4);
  });
});
