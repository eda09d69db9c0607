import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { describe, expect, it } from 'vitest';
import { user } from '../support/events.js';
import { useRuntimes } from '../support/runtime.js';
import { transportCase, transportCases } from '../support/transports.js';
import { poll, quiet } from '../support/wait.js';

// Findings: poison that could not be dead-lettered looped forever (a 600 KB undecodable body, JSON
// nested 20,000 deep, a deleted dead-letter stream), one non-JSON record on the dead-letter subject
// broke every dead-letter operation, non-UTF-8 bodies changed bytes on redrive, and an envelope's
// `type` was not checked against its subject.

const envelope = (type: string, data: unknown, id = `ext-${Math.random()}`) => ({
  specversion: '1.0',
  id,
  source: 'foreign',
  type,
  time: new Date().toISOString(),
  datacontenttype: 'application/json',
  data,
});

/** `{"a":{"a":…}}` nested `depth` deep, as text: too deep for JSON.stringify to write back. */
function deepJson(depth: number): string {
  return `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
}

describe.each(transportCases)('poison on $name', (c) => {
  const { runtime } = useRuntimes(c);

  it('dead-letters an event whose type does not match its subject, as a validation failure', async () => {
    const rt = await runtime();
    let calls = 0;
    await rt.subscribe('user.created', () => void calls++).ready;
    // A well-formed availability event on the user.created subject: its schema is not the one that applies.
    const wrong = envelope('availability.created', { staffId: 's', day: 'mon' });
    await rt.transport.publishRaw('user.created', JSON.stringify(wrong));
    const [dl] = await poll(
      () => rt.deadLetters.list(),
      (d) => d.length === 1,
      'dead letter',
    );
    expect(dl).toMatchObject({ reason: 'validation', error: { name: 'ValidationError' } });
    expect(dl!.error.message).toMatch(/does not match its subject/);
    expect(calls).toBe(0);
  });

  it('keeps bytes that are not UTF-8 exactly, and a redrive puts back the same bytes', async () => {
    const rt = await runtime();
    const bytes = new Uint8Array([0xff, 0xfe, 0x00, 0x41, 0xc3, 0x28, 0x80]);
    await rt.subscribe('user.created', () => undefined).ready;
    await rt.transport.publishRaw('user.created', bytes);
    const [dl] = await poll(
      () => rt.deadLetters.list(),
      (d) => d.length === 1,
      'decode dead letter',
    );
    expect(dl).toMatchObject({ reason: 'decode', rawEncoding: 'base64' });
    expect(new Uint8Array(Buffer.from(dl!.raw!, 'base64'))).toEqual(bytes);
    expect(await rt.deadLetters.redrive({ ids: [dl!.id] })).toEqual({ redriven: 1 });
    // Back on the live path, undecodable again: dead-lettered again, with the very same bytes.
    const [again] = await poll(
      () => rt.deadLetters.list(),
      (d) => d.length === 1 && d[0]!.id !== dl!.id,
      'second decode dead letter',
    );
    expect(again).toMatchObject({ reason: 'decode', rawEncoding: 'base64' });
    expect(new Uint8Array(Buffer.from(again!.raw!, 'base64'))).toEqual(bytes);
  });
});

describe('poison on nats', () => {
  const c = transportCase('nats');
  const { runtime, bus } = useRuntimes(c);

  it('dead-letters a 600 KB undecodable body once, keeping its bytes once', async () => {
    const rt = await runtime();
    const body = `not json ${'x'.repeat(600 * 1024)}`;
    await rt.subscribe('user.created', () => undefined).ready;
    await rt.transport.publishRaw('user.created', body);
    const [dl] = await poll(
      () => rt.deadLetters.list(),
      (d) => d.length === 1,
      'dead letter',
    );
    expect(dl).toMatchObject({ reason: 'decode' });
    expect(dl!.raw).toBe(body);
    expect(dl!.event.data).toBeNull();
    await quiet(300); // a looping message would add attempts and dead letters meanwhile
    expect(await rt.deadLetters.count()).toBe(1);
  });

  it('stores a dead letter too large to keep whole truncated, and a redrive puts back the original bytes', async () => {
    const rt = await runtime();
    // Fits the server's 1 MiB max_payload as an event; with the dead letter's own fields, it does not.
    const body = `not json ${'y'.repeat(1_047_900)}`;
    await rt.subscribe('user.created', () => undefined).ready;
    await rt.transport.publishRaw('user.created', body);
    const [dl] = await poll(
      () => rt.deadLetters.list(),
      (d) => d.length === 1,
      'truncated dead letter',
    );
    expect(dl).toMatchObject({ reason: 'decode', truncated: true });
    expect(dl!.raw).toBeUndefined();
    await quiet(300);
    expect(await rt.deadLetters.count()).toBe(1);
    const nc = await connect({ servers: bus().url });
    try {
      const seen = new Promise<string>((resolve) => {
        const sub = nc.subscribe(`${bus().prefix}.events.user.created`, {
          callback: (_e, m) => {
            sub.unsubscribe();
            resolve(m.string());
          },
        });
      });
      await nc.flush();
      expect(await rt.deadLetters.redrive({ ids: [dl!.id] })).toEqual({ redriven: 1 });
      expect(await seen).toBe(body);
    } finally {
      await nc.close();
    }
  });

  it('dead-letters JSON nested 20,000 deep (too deep to write back) instead of looping', async () => {
    const rt = await runtime();
    let calls = 0;
    await rt.subscribe('user.created', () => void calls++).ready;
    await rt.transport.publishRaw(
      'user.created',
      JSON.stringify(envelope('user.created', 'PLACEHOLDER')).replace('"PLACEHOLDER"', deepJson(20_000)),
    );
    const [dl] = await poll(
      () => rt.deadLetters.list(),
      (d) => d.length === 1,
      'dead letter of the deep event',
    );
    expect(dl).toMatchObject({ reason: 'validation', truncated: true });
    await quiet(300);
    expect(await rt.deadLetters.count()).toBe(1);
    expect(calls).toBe(0);
  });

  it('creates a deleted dead-letter stream again instead of looping', async () => {
    const rt = await runtime();
    await rt.subscribe('user.created', () => undefined).ready;
    const nc = await connect({ servers: bus().url });
    try {
      const jsm = await jetstreamManager(nc);
      await jsm.streams.delete(`${bus().prefix.toUpperCase()}_DLQ`);
      await rt.transport.publishRaw('user.created', 'not json at all');
      await poll(
        () => rt.deadLetters.count(),
        (n) => n === 1,
        'the dead letter, in a dead-letter stream made again',
      );
    } finally {
      await nc.close();
    }
  });

  it('skips and counts a record on the dead-letter subject that is not a dead letter; every operation still works', async () => {
    const rt = await runtime();
    const handled: string[] = [];
    let broken = true;
    await rt.subscribe(
      'user.created',
      (u) => {
        if (broken) throw new Error('down');
        handled.push(u.id);
      },
      { maxAttempts: 1 },
    ).ready;
    await rt.publish('user.created', user('1'));
    await rt.publish('user.created', user('2'));
    await poll(
      () => rt.deadLetters.count(),
      (n) => n === 2,
      'two dead letters',
    );
    const nc = await connect({ servers: bus().url });
    try {
      nc.publish(`${bus().prefix}.dlq.accounts.user.created`, 'garbage, not a dead letter');
      await nc.flush();
    } finally {
      await nc.close();
    }
    expect(await rt.deadLetters.count()).toBe(2);
    expect((await rt.deadLetters.list()).map((d) => d.event.data)).toHaveLength(2);
    broken = false;
    expect(await rt.deadLetters.redrive()).toEqual({ redriven: 2 });
    await poll(
      async () => handled.length,
      (n) => n === 2,
      'both redriven events handled',
    );
    expect(await rt.deadLetters.purge()).toEqual({ purged: 0 });
  });
});
