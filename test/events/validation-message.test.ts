import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ValidationError, isValidationError } from '../../src/errors.js';
import { defineEvents } from '../../src/events/registry.js';
import { createBreaker } from '../../src/breaker/index.js';
import { createRuntime } from '../../src/runtime/create-runtime.js';
import { testLogger } from '../support/events.js';

const events = defineEvents({
  'user.created': z.object({
    id: z.string(),
    role: z.enum(['user', 'admin']),
    tags: z.array(z.object({ name: z.string() })).optional(),
  }),
});

function caught(fn: () => unknown): ValidationError {
  try {
    fn();
  } catch (e) {
    if (isValidationError(e)) return e;
    throw e;
  }
  throw new Error('nothing was thrown');
}

describe('ValidationError messages', () => {
  it('names the type and every issue on one line, and keeps the issues', () => {
    const err = caught(() => events.parse('user.created', { id: 1, role: 'root', tags: [{ name: 2 }] }));
    expect(err.message).not.toMatch(/\n/);
    expect(err.message).toBe(
      'invalid "user.created" payload: id: Invalid input: expected string, received number; ' +
        'role: Invalid option: expected one of "user"|"admin"; ' +
        'tags[0].name: Invalid input: expected string, received number',
    );
    expect(err.issues.map((i) => i.path)).toEqual([['id'], ['role'], ['tags', 0, 'name']]);
  });

  it('lists five issues, then counts the rest', () => {
    const wide = z.object(Object.fromEntries(Array.from({ length: 7 }, (_, i) => [`f${i}`, z.string()])));
    const r = wide.safeParse({});
    expect(r.success).toBe(false);
    const err = ValidationError.fromIssues('invalid form', r.error!.issues);
    expect(err.message).toMatch(/^invalid form: f0: .*; f4: [^;]*; and 2 more$/);
    expect(err.issues).toHaveLength(7);
  });

  it('folds a multi-line custom message onto the line', () => {
    const schema = z.string().refine(() => false, { message: 'first line\n  second line' });
    const r = schema.safeParse('x');
    expect(ValidationError.fromIssues('invalid name', r.error!.issues).message).toBe(
      'invalid name: first line second line',
    );
  });

  it('is one line for breaker and queue options and for a publish', async () => {
    expect(caught(() => createBreaker('db', { failureThreshold: -1 })).message).toMatch(
      /^invalid options of breaker "db": failureThreshold: [^\n]+$/,
    );
    const rt = await createRuntime({ service: 'v', events, logger: testLogger, handleSignals: false });
    try {
      expect(caught(() => rt.queue('emails', { concurrency: 0 })).message).toMatch(
        /^invalid [^\n]*: concurrency: [^\n]+$/,
      );
      const published = await rt
        .publish('user.created', { id: '1', role: 'root' } as never)
        .catch((e: unknown) => e);
      expect((published as Error).message).toBe(
        'invalid "user.created" payload: role: Invalid option: expected one of "user"|"admin"',
      );
    } finally {
      await rt.shutdown();
    }
  });
});
