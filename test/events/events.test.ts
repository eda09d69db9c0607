import { describe, expect, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import { decodeEvent, encodeEvent } from '../../src/events/cloudevent.js';
import { uuidv7 } from '../../src/events/ids.js';
import { defineEvents } from '../../src/events/registry.js';
import { isValidationError } from '../../src/errors.js';
import { createRuntime } from '../../src/runtime/create-runtime.js';
import { testLogger } from '../support/events.js';

const events = defineEvents({
  'user.created': z.object({ id: z.string(), role: z.enum(['user', 'admin']).default('user') }),
});

describe('event registry', () => {
  it('parses with the schema (defaults applied) and throws ValidationError with issues', () => {
    expect(events.parse('user.created', { id: '1' })).toEqual({ id: '1', role: 'user' });
    try {
      events.parse('user.created', { id: 1 });
      expect.unreachable();
    } catch (e) {
      expect(isValidationError(e)).toBe(true);
      expect((e as { issues: unknown[] }).issues).toHaveLength(1);
    }
  });

  it('rejects type names that cannot be subject tokens', () => {
    expect(() => defineEvents({ 'user created': z.string() })).toThrow(/event type/);
    expect(() => defineEvents({ 'user.*': z.string() })).toThrow(/event type/);
  });

  it('types publish from the schemas: unknown types and wrong payloads do not compile', async () => {
    const rt = await createRuntime({ service: 'types', events, logger: testLogger });
    expectTypeOf(rt.publish<'user.created'>)
      .parameter(1)
      .toEqualTypeOf<{ id: string; role?: 'user' | 'admin' }>();
    // @ts-expect-error an unknown event type is a compile error
    await rt.publish('user.deleted', { id: '1' }).catch(() => undefined);
    // @ts-expect-error a wrong payload is a compile error
    await rt.publish('user.created', { id: 1 }).catch(() => undefined);
    rt.subscribe('user.created', (payload) => {
      expectTypeOf(payload).toEqualTypeOf<{ id: string; role: 'user' | 'admin' }>();
    });
    await rt.shutdown();
  });
});

describe('CloudEvents envelope', () => {
  it('round-trips through structured JSON', () => {
    const e = {
      specversion: '1.0',
      id: 'a',
      source: 's',
      type: 't',
      time: new Date().toISOString(),
      datacontenttype: 'application/json',
      data: { x: 1 },
    } as const;
    expect(decodeEvent(encodeEvent(e))).toEqual(e);
  });

  it('refuses bytes that are not a CloudEvent, naming the problem', () => {
    expect(() => decodeEvent('nope')).toThrow(/JSON/);
    expect(() => decodeEvent(new Uint8Array([0xff, 0xfe]))).toThrow(/JSON/);
    expect(() => decodeEvent('{"specversion":"0.3"}')).toThrow(/specversion/);
    expect(() => decodeEvent('{"specversion":"1.0","id":"x","type":"t"}')).toThrow(/source/);
  });
});

describe('uuidv7', () => {
  it('is a version 7 UUID, unique and time-ordered', () => {
    const ids = Array.from({ length: 10_000 }, () => uuidv7());
    for (const id of ids.slice(0, 100))
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(ids);
  });

  it('encodes the millisecond timestamp in its first 48 bits', () => {
    const now = Date.UTC(2030, 0, 1);
    const id = uuidv7(now);
    expect(parseInt(id.slice(0, 8) + id.slice(9, 13), 16)).toBe(now);
  });
});
