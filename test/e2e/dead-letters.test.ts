import { describe, expect, it } from 'vitest';
import { fixed } from '../../src/retry/backoff.js';
import { user } from '../support/events.js';
import { useRuntimes } from '../support/runtime.js';
import { poll, until } from '../support/wait.js';
import { transportCases } from '../support/transports.js';

const foreignEvent = (data: unknown) =>
  JSON.stringify({
    specversion: '1.0',
    id: `ext-${Math.random()}`,
    source: 'legacy',
    type: 'user.created',
    time: new Date().toISOString(),
    datacontenttype: 'application/json',
    data,
  });

describe.each(transportCases)('dead letters on $name', (c) => {
  const { runtime } = useRuntimes(c);

  it('dead-letters a payload that fails its schema on receipt at once, reason validation', async () => {
    const rt = await runtime();
    let calls = 0;
    await rt.subscribe('user.created', () => void calls++, { maxAttempts: 5 }).ready;
    await rt.transport.publishRaw('user.created', foreignEvent({ id: 7, username: 'x' }));
    const [dl] = await poll(
      () => rt.deadLetters.list(),
      (d) => d.length === 1,
      'validation dead letter',
    );
    expect(dl).toMatchObject({
      reason: 'validation',
      attempts: 1,
      group: 'accounts',
      error: { name: 'ValidationError' },
    });
    expect(dl!.error.message).toMatch(/id/);
    expect(dl!.event.source).toBe('legacy');
    expect(calls).toBe(0);
  });

  it('dead-letters bytes that cannot be decoded at once, reason decode, keeping the raw text', async () => {
    const rt = await runtime();
    let calls = 0;
    await rt.subscribe('user.created', () => void calls++).ready;
    await rt.transport.publishRaw('user.created', 'this is {not json');
    await rt.transport.publishRaw('user.created', JSON.stringify({ hello: 'world' }));
    const dead = await poll(
      () => rt.deadLetters.list(),
      (d) => d.length === 2,
      'decode dead letters',
    );
    expect(dead.map((d) => d.reason)).toEqual(['decode', 'decode']);
    expect(dead[0]!.raw).toBe('this is {not json');
    expect(dead[0]!.event.type).toBe('user.created');
    expect(calls).toBe(0);
  });

  it('redrives a dead letter to its group only, where the fixed handler succeeds', async () => {
    const rt = await runtime();
    let broken = true;
    const mailer: string[] = [];
    const audit: string[] = [];
    await rt.subscribe(
      'user.created',
      (p) => {
        if (broken) throw new Error('template missing');
        mailer.push(p.id);
      },
      { group: 'mailer', maxAttempts: 1 },
    ).ready;
    const auditSub = rt.subscribe('user.created', (p) => void audit.push(p.id), { group: 'audit' });
    await auditSub.ready;
    const { id } = await rt.publish('user.created', user('42'));
    await poll(
      () => rt.deadLetters.list(),
      (d) => d.length === 1,
      'dead letter',
    );
    expect(audit).toEqual(['42']);
    broken = false;
    expect(await rt.deadLetters.redrive({ ids: [id] })).toEqual({ redriven: 1 });
    await until(() => mailer.length === 1, 'redriven event handled');
    expect(mailer).toEqual(['42']);
    expect(await rt.deadLetters.list()).toEqual([]);
    // The redriven copy reaches every group's consumer; the audit group's skips it, unhandled.
    await until(() => auditSub.stats().skipped === 1, 'the audit group to skip the redriven event');
    expect(audit).toEqual(['42']);
  });

  it('lists by type with a limit, and purges by id or type', async () => {
    const rt = await runtime();
    await rt.subscribe('user.created', () => Promise.reject(new Error('no')), { maxAttempts: 1 }).ready;
    await rt.subscribe('availability.created', () => Promise.reject(new Error('no')), {
      maxAttempts: 1,
      backoff: fixed({ delayMs: 1 }),
    }).ready;
    for (let i = 0; i < 3; i++) await rt.publish('user.created', user(String(i)));
    await rt.publish('availability.created', { staffId: 's', day: 'mon' });
    await poll(
      () => rt.deadLetters.count(),
      (n) => n === 4,
      'four dead letters',
    );
    expect(await rt.deadLetters.list({ type: 'user.created', limit: 2 })).toHaveLength(2);
    const [first] = await rt.deadLetters.list({ type: 'user.created' });
    expect(await rt.deadLetters.purge({ ids: [first!.id] })).toEqual({ purged: 1 });
    expect(await rt.deadLetters.count({ type: 'user.created' })).toBe(2);
    expect(await rt.deadLetters.purge({ type: 'user.created' })).toEqual({ purged: 2 });
    expect((await rt.deadLetters.list()).map((d) => d.event.type)).toEqual(['availability.created']);
  });
});
