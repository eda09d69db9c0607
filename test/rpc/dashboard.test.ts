import { describe, expect, it } from 'vitest';
import { readSnapshot, StatusSince } from '../../src/http/dashboard/snapshot.js';
import { useRuntimes } from '../support/runtime.js';
import { transportCase } from '../support/transports.js';
import { api } from './api.js';

describe('the dashboard snapshot lists endpoints', () => {
  const { runtime } = useRuntimes(transportCase('memory'));

  it('with their status and the counters the page turns into rates, errors and latency', async () => {
    const rt = await runtime('orders');
    const ep = rt.handle(api, 'orders.get', (req) => {
      if (req.id === 'x') throw new Error('no such order');
      return { id: req.id, status: 'paid' };
    });
    await ep.ready;
    await rt.request(api, 'orders.get', { id: '1' });
    await rt.request(api, 'orders.get', { id: 'x' }, { breaker: false }).catch(() => undefined);
    const snap = await readSnapshot(rt, { adminEnabled: false, since: new StatusSince() });
    expect(snap.endpoints).toEqual([
      expect.objectContaining({
        actor: 'endpoint:orders.get',
        name: 'orders.get',
        status: 'serving',
        requests: 2,
        errors: 1,
        lastError: 'no such order',
        inFlight: 0,
      }),
    ]);
    expect(snap.endpoints?.[0]?.processingNs).toBeGreaterThan(0);
  });
});
