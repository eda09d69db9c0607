import { connect, headers } from '@nats-io/transport-node';
import { describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { readHeaders } from '../../../src/transport/nats/delivery.js';

describe('readHeaders', () => {
  it('reads the same headers as nats.js, straight from the message bytes', async () => {
    const nc = await connect({ servers: inject('natsUrl') });
    try {
      const got = new Promise<{ fast: Record<string, string>; slow: [string, string][] }>((resolve) => {
        const sub = nc.subscribe('hdr.test', {
          callback: (_err, msg) => {
            const fast = { ...readHeaders(msg) };
            const slow = [...msg.headers!.keys()].map((k) => [k, msg.headers!.get(k)] as [string, string]);
            sub.unsubscribe();
            resolve({ fast, slow });
          },
        });
      });
      const h = headers();
      h.set('Nats-Msg-Id', 'id-1');
      h.set('traceparent', '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01');
      h.set('x-tenant', 'tränt: with colon');
      nc.publish('hdr.test', 'x', { headers: h });
      const { fast, slow } = await got;
      expect(fast).toEqual(Object.fromEntries(slow));
      expect(fast['x-tenant']).toBe('tränt: with colon');
    } finally {
      await nc.close();
    }
  });
});
