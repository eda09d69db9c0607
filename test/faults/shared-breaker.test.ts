import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { afterEach, describe, expect, it } from 'vitest';
import { BreakerRegistry } from '../../src/breaker/index.js';
import { SHARED_BREAKER_BUCKET } from '../../src/breaker/shared-format.js';
import { openNatsKeyValue } from '../../src/transport/nats/key-value.js';
import { startNatsServer } from '../setup/nats-server.js';
import { testLogger } from '../support/events.js';
import { waitFor } from '../support/wait.js';

// Finding: the shared-breaker bucket's watch died silently when the bucket was deleted: one
// instance stayed CLOSED while its peer was OPEN, still reporting `shared`.

describe('a shared breaker whose bucket is deleted', () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });

  it('reports local-degraded, watches again once the bucket is back, and follows its peer again', async () => {
    // A server of its own: the bucket's name is shared by every test of the run.
    const server = await startNatsServer();
    cleanup.push(() => server.dispose());
    const nc = await connect({ servers: server.url });
    cleanup.push(() => nc.close());
    const registry = () => {
      const r = new BreakerRegistry({
        service: 'pay',
        logger: testLogger,
        keyValue: (bucket) => openNatsKeyValue(nc, bucket),
      });
      cleanup.push(() => r.close());
      return r.get('stripe', { shared: true, failureThreshold: 1, resetTimeoutMs: 60_000 });
    };
    const a = registry();
    const b = registry();
    const mode = (x: typeof a) => x.stats().shared?.mode;
    await waitFor(() => mode(a) === 'shared' && mode(b) === 'shared', { what: 'both shared' });
    const jsm = await jetstreamManager(nc);
    await jsm.streams.delete(`KV_${SHARED_BREAKER_BUCKET}`);
    await waitFor(() => mode(a) === 'local-degraded' && mode(b) === 'local-degraded', {
      timeoutMs: 10_000,
      what: 'both to report local-degraded',
    });
    await waitFor(() => mode(a) === 'shared' && mode(b) === 'shared', {
      timeoutMs: 15_000,
      what: 'both to watch the bucket again',
    });
    a.open();
    await waitFor(() => b.state === 'OPEN', { timeoutMs: 5_000, what: 'the peer to follow the manual open' });
    expect(b.stats().state).toBe('OPEN');
  }, 40_000);
});
