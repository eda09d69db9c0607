import { connect, headers } from '@nats-io/transport-node';
import { describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { rawHeaderBlock, readHeaders } from '../../../src/transport/nats/toolkit/header-block.js';

describe('readHeaders', () => {
  it('reads the same headers as nats.js, straight from the message bytes', async () => {
    const nc = await connect({ servers: inject('natsUrl') });
    try {
      const got = new Promise<{
        fast: Record<string, string>;
        slow: [string, string][];
        block: Uint8Array | null | undefined;
      }>((resolve) => {
        const sub = nc.subscribe('hdr.test', {
          callback: (_err, msg) => {
            const block = rawHeaderBlock(msg);
            const fast = { ...readHeaders(msg) };
            const slow = [...msg.headers!.keys()].map((k) => [k, msg.headers!.get(k)] as [string, string]);
            sub.unsubscribe();
            resolve({ fast, slow, block });
          },
        });
      });
      const h = headers();
      h.set('Nats-Msg-Id', 'id-1');
      h.set('traceparent', '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01');
      h.set('x-tenant', 'tränt: with colon');
      nc.publish('hdr.test', 'x', { headers: h });
      const { fast, slow, block } = await got;
      // The fast path reads nats.js internals: an upgrade that moves them must fail here, not slow down quietly.
      expect(block).toBeInstanceOf(Uint8Array);
      expect(fast).toEqual(Object.fromEntries(slow));
      expect(fast['x-tenant']).toBe('tränt: with colon');
    } finally {
      await nc.close();
    }
  });
});
