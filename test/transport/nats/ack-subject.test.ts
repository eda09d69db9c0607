import { describe, expect, it } from 'vitest';
import { parseAckSubject } from '../../../src/transport/nats/pull-loop.js';

describe('parseAckSubject', () => {
  it('reads delivery count and stream sequence from the 9-token form', () => {
    expect(parseAckSubject('$JS.ACK.P_EVENTS.mailer_user_created.3.1042.77.1795329175845000000.12')).toEqual([
      3, 1042,
    ]);
  });

  it('reads them from the form with domain and account hash', () => {
    expect(
      parseAckSubject('$JS.ACK.hub.ACCHASH.P_EVENTS.mailer_user_created.1.9.9.1795329175845000000.0.rnd'),
    ).toEqual([1, 9]);
  });
});
