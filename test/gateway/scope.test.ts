import { describe, expect, it } from 'vitest';
import { GatewayEvent } from '../../src/gateway/frames.js';
import { EventRing } from '../../src/gateway/ring.js';
import { covers, outsideScope, PatternSet, typesMatching } from '../../src/gateway/scope.js';
import { consumedPatterns } from '../../src/gateway/source.js';
import { checkSubscription, parseSseQuery } from '../../src/gateway/subscribe-request.js';

const event = (seq: number, type = 'order.placed') =>
  new GatewayEvent(seq, {
    specversion: '1.0',
    id: `e${seq}`,
    source: 's',
    type,
    time: '',
    datacontenttype: 'application/json',
    data: { seq },
  });

describe('gateway scope', () => {
  it.each([
    ['order.*', 'order.placed', true],
    ['order.*', 'order.*', true],
    ['order.*', 'order.>', false],
    ['order.*', 'order.placed.eu', false],
    ['order.>', 'order.*', true],
    ['order.>', 'order.placed.eu', true],
    ['order.>', 'order.>', true],
    ['order.>', 'order', false],
    ['order.placed', 'order.*', false],
    ['order.placed', 'order.placed', true],
    ['*.created', 'user.created', true],
    ['*.created', '*.created', true],
    ['*.created', '>', false],
    ['>', 'anything.at.all', true],
  ])('%s covers %s: %s', (outer, inner, expected) => {
    expect(covers(outer, inner)).toBe(expected);
  });

  it('lists the patterns outside the allowed ones, malformed ones included', () => {
    expect(outsideScope(['order.*', 'user.created'], ['order.placed', 'user.*', 'order.>', 'a.>.b'])).toEqual(
      ['user.*', 'order.>', 'a.>.b'],
    );
  });

  it('consumes each pattern once, without those another covers', () => {
    expect(consumedPatterns(['order.placed', 'order.*', 'user.created', 'order.*', '*.created'])).toEqual([
      'order.*',
      '*.created',
    ]);
  });

  it('expands patterns over the registered types', () => {
    expect(typesMatching(['order.*'], ['order.placed', 'user.created', 'order.shipped'])).toEqual([
      'order.placed',
      'order.shipped',
    ]);
    const set = new PatternSet(['order.*', 'user.created']);
    expect([set.matches('order.placed'), set.matches('user.created'), set.matches('user.deleted')]).toEqual([
      true,
      true,
      false,
    ]);
  });

  it('checks a subscription: patterns, their number and from', () => {
    expect(checkSubscription(['order.*'], 2, ['order.placed', 'order.placed'], 7)).toEqual({
      patterns: ['order.placed'],
      from: 7,
    });
    expect(checkSubscription(['order.*'], 2, [], undefined)).toHaveProperty('error');
    expect(checkSubscription(['order.*'], 1, ['order.a', 'order.b'], undefined)).toHaveProperty('error');
    expect(checkSubscription(['order.*'], 2, ['order.a'], -1)).toHaveProperty('error');
    expect(checkSubscription(['order.*'], 2, ['order.a'], '1.5')).toHaveProperty('error');
    const url = new URL('http://x/events/sse?subscribe=order.a,order.b&subscribe=order.c&from=3');
    expect(parseSseQuery(['order.*'], 5, url, '9')).toEqual({
      patterns: ['order.a', 'order.b', 'order.c'],
      from: 9,
    });
    expect(parseSseQuery(['order.*'], 5, url, undefined)).toMatchObject({ from: 3 });
  });
});

describe('the gateway ring', () => {
  it('keeps events in seq order, holds a seq once, and knows what it covers once full', () => {
    const ring = new EventRing(3);
    expect(ring.holdsAfter(0)).toBe(false);
    for (const seq of [11, 12]) expect(ring.add(event(seq))).toBe('added');
    expect(ring.holdsAfter(10)).toBe(true);
    // A later arrival of an older seq (another pattern's consumer) still fits before eviction.
    expect(ring.add(event(10))).toBe('added');
    expect(ring.add(event(12))).toBe('duplicate');
    expect(ring.after(10).map((e) => e.seq)).toEqual([11, 12]);
    expect([ring.holdsAfter(9), ring.holdsAfter(8)]).toEqual([true, false]);
    ring.add(event(13));
    expect(ring.size).toBe(3);
    expect(ring.oldest).toBe(11);
    expect([ring.holdsAfter(10), ring.holdsAfter(9)]).toEqual([true, false]);
    expect(ring.add(event(9))).toBe('late'); // older than what was evicted: not taken back
    expect(ring.after(0).map((e) => e.seq)).toEqual([11, 12, 13]);
  });

  it('builds each frame once: JSON for WebSockets, an SSE message with the seq as id', () => {
    const e = event(5);
    expect(JSON.parse(e.json)).toEqual({ seq: 5, event: expect.objectContaining({ id: 'e5' }) as unknown });
    expect(e.sse).toBe(`id: 5\ndata: ${e.json}\n\n`);
    expect(e.bytes.toString()).toBe(e.json);
    expect(e.json).toBe(e.json);
  });
});
