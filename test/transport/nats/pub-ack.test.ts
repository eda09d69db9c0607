import { afterEach, describe, expect, inject, it } from 'vitest';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { TransportError } from '../../../src/errors.js';
import { PubAckPublisher } from '../../../src/transport/nats/toolkit/pub-ack.js';

describe('PubAck publisher (JetStream publishes answered by PubAck)', () => {
  let nc: NatsConnection | undefined;
  afterEach(async () => {
    await nc?.close();
    nc = undefined;
  });

  it('fails a publish no stream takes, and one nobody answers in time', async () => {
    nc = await connect({ servers: inject('natsUrl') });
    const silent = nc.subscribe('adder-test.silent');
    const pub = new PubAckPublisher(nc, 200);
    const bytes = new TextEncoder().encode('{}');
    const refused = await pub.publish(`adder-test.nostream.${Date.now()}`, bytes).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(TransportError);
    const t0 = performance.now();
    const late = await pub
      .publish('adder-test.silent', bytes, { 'Nats-Msg-Id': 'k1' })
      .catch((e: unknown) => e);
    expect(late).toBeInstanceOf(TransportError);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(190);
    pub.close();
    silent.unsubscribe();
  });
});
