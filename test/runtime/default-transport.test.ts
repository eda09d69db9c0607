import { describe, expect, inject, it } from 'vitest';
import { defaultTransport } from '../../src/runtime/create-runtime.js';

describe('defaultTransport', () => {
  it('is the memory transport without NATS_URL', async () => {
    expect((await defaultTransport({})).kind).toBe('memory');
  });

  it('is NATS JetStream at NATS_URL when it is set', async () => {
    const t = await defaultTransport({
      NATS_URL: inject('natsUrl'),
      BULWARK_PREFIX: `dt${Date.now().toString(36)}`,
    });
    expect(t.kind).toBe('nats');
  });
});
