import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { isPayloadTooLargeError, isValidationError } from '../../src/errors.js';
import { defineEvents, MAX_EVENT_TYPE_LENGTH } from '../../src/events/registry.js';
import { createRuntime } from '../../src/runtime/create-runtime.js';
import { natsTransport } from '../../src/transport/nats/nats-transport.js';
import { testLogger, user } from '../support/events.js';
import { useRuntimes } from '../support/runtime.js';
import { transportCase } from '../support/transports.js';
import { poll } from '../support/wait.js';

// Findings: an event type of ~4,050+ characters wedged all publishing (the server dropped the
// connection on its control line and the outbox kept the event at its head forever); types of 250+
// characters never got a subscriber, silently.

describe('event type limits', () => {
  it('refuses a type longer than the limit when the registry is defined, naming the limit', () => {
    const long = `a.${'b'.repeat(4_050)}`;
    let err: unknown;
    try {
      defineEvents({ [long]: z.object({}) });
    } catch (e) {
      err = e;
    }
    expect(isValidationError(err)).toBe(true);
    expect((err as Error).message).toContain(String(MAX_EVENT_TYPE_LENGTH));
  });
});

describe('limits on nats', () => {
  const { bus, runtime } = useRuntimes(transportCase('nats'));

  it('delivers events of a type as long as the limit allows', async () => {
    const type = `long.${'t'.repeat(MAX_EVENT_TYPE_LENGTH - 5)}`;
    const events = defineEvents({ [type]: z.object({ n: z.number() }) });
    const rt = await createRuntime({
      service: 'long-types',
      events,
      transport: natsTransport({ servers: bus().url, prefix: bus().prefix }),
      logger: testLogger,
      handleSignals: false,
    });
    try {
      const got: number[] = [];
      await rt.subscribe(type, (p: { n: number }) => void got.push(p.n)).ready;
      await rt.publish(type, { n: 1 });
      await poll(
        async () => got,
        (g) => g.length === 1,
        'the event',
      );
    } finally {
      await rt.shutdown();
    }
  });

  it('refuses an event larger than the server takes with a typed error, and keeps publishing', async () => {
    const rt = await runtime();
    const got: string[] = [];
    await rt.subscribe('user.created', (u) => void got.push(u.id)).ready;
    const huge = user('x', 'u'.repeat(2 * 1024 * 1024));
    const err = await rt.publish('user.created', huge).catch((e: unknown) => e);
    expect(isPayloadTooLargeError(err)).toBe(true);
    await rt.publish('user.created', user('after'));
    await poll(
      async () => got,
      (g) => g.includes('after'),
      'the next event',
    );
    expect(rt.transport.status().outboxSize).toBe(0);
  });

  it('refuses a group name longer than the limit', async () => {
    const rt = await runtime();
    expect(() => rt.subscribe('user.created', () => undefined, { group: 'g'.repeat(300) })).toThrow(
      /group name/,
    );
  });
});
