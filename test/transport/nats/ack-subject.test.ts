import { describe, expect, it } from 'vitest';
import { parseAckSubject } from '../../../src/transport/nats/toolkit/ack.js';
import { readPullStatus } from '../../../src/transport/nats/toolkit/pull.js';

describe('parseAckSubject', () => {
  it('reads delivery count, stream sequence and pending count from the 9-token form', () => {
    expect(parseAckSubject('$JS.ACK.P_EVENTS.mailer_user_created.3.1042.77.1795329175845000000.12')).toEqual([
      3, 1042, 12,
    ]);
  });

  it('reads them from the form with domain and account hash', () => {
    expect(
      parseAckSubject('$JS.ACK.hub.ACCHASH.P_EVENTS.mailer_user_created.1.9.9.1795329175845000000.7.rnd'),
    ).toEqual([1, 9, 7]);
  });
});

describe('readPullStatus', () => {
  const status = (code: number, description = '', pending?: number) =>
    ({
      headers: {
        code,
        description,
        get: (k: string) => (k === 'Nats-Pending-Messages' && pending !== undefined ? String(pending) : ''),
      },
    }) as unknown as Parameters<typeof readPullStatus>[0];

  it('keeps a heartbeat from changing anything', () => {
    expect(readPullStatus(status(100), 40)).toEqual({ outcome: 'heartbeat', requested: 40 });
  });

  it('subtracts what an expired request will never send', () => {
    expect(readPullStatus(status(408, 'Request Timeout', 30), 40)).toEqual({
      outcome: 'expired',
      requested: 10,
    });
    expect(readPullStatus(status(404, 'No Messages'), 40)).toEqual({ outcome: 'expired', requested: 0 });
  });

  it('tells a deleted consumer, no responders and other refusals apart', () => {
    expect(readPullStatus(status(409, 'Consumer Deleted'), 5).outcome).toBe('deleted');
    expect(readPullStatus(status(503), 5)).toEqual({ outcome: 'no-responders', requested: 0 });
    expect(readPullStatus(status(409, 'Exceeded MaxWaiting'), 5)).toEqual({
      outcome: 'refused',
      requested: 0,
    });
  });
});
