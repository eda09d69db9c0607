import { describe, expect, it } from 'vitest';
import { transportCases } from '../support/transports.js';
import { until } from '../support/wait.js';
import { useGateway } from './harness.js';
import { refusedUpgrade, SseTestClient, WsTestClient } from './support.js';

interface Claims {
  readonly user: string;
}

/** `authorize` of these tests: the bearer token names the user; no token, no entry. */
function authorize(req: { headers: { authorization?: string | undefined } }): Claims | null {
  const m = /^Bearer (\w+)$/.exec(req.headers.authorization ?? '');
  return m ? { user: m[1]! } : null;
}

const auth = (user: string) => ({ authorization: `Bearer ${user}` });

describe.each(transportCases)('browser gateway on $name', (c) => {
  const g = useGateway(c);

  it('sends a WebSocket client the events of its patterns, each with its seq, and nothing else', async () => {
    const rt = await g.runtime();
    const server = await g.listen(rt, { gateway: { events: ['order.*', 'user.created'] } });
    const client = g.track(new WsTestClient(`${server.url}/events`));
    await client.subscribe(['order.*']);
    await until(() => client.subscribed !== undefined, 'subscribed');
    const placed = await rt.publish('order.placed', { id: 'o1', owner: 'ada' });
    await rt.publish('user.created', { id: 'u1' });
    await rt.publish('secret.rotated', { key: 'k' });
    const shipped = await rt.publish('order.shipped', { id: 'o1', owner: 'ada' });
    const last = await rt.publish('order.placed', { id: 'o2', owner: 'bob' });
    await until(() => client.seqs.includes(last.seq!), 'the last order event');
    // One consumer for the pattern: the two order types arrive in sequence order.
    expect(client.seqs).toEqual([placed.seq, shipped.seq, last.seq]);
    const first = client.events.find((e) => e.seq === placed.seq)!;
    expect(first.event).toMatchObject({
      specversion: '1.0',
      id: placed.id,
      type: 'order.placed',
      source: 'web',
      data: { id: 'o1', owner: 'ada' },
    });
  });

  it('streams server-sent events whose ids are the seqs', async () => {
    const rt = await g.runtime();
    const server = await g.listen(rt, { gateway: { events: ['order.*'] } });
    const sse = g.track(new SseTestClient(`${server.url}/events/sse?subscribe=order.placed`));
    await until(() => sse.named.some((n) => n.event === 'subscribed'), 'subscribed');
    expect(sse.status).toBe(200);
    const a = await rt.publish('order.placed', { id: 'o1', owner: 'ada' });
    await rt.publish('order.shipped', { id: 'o1', owner: 'ada' });
    const b = await rt.publish('order.placed', { id: 'o2', owner: 'ada' });
    await until(() => sse.events.length === 2, 'two events');
    expect(sse.seqs).toEqual([a.seq, b.seq]);
    expect(sse.ids).toEqual([String(a.seq), String(b.seq)]);
    expect(sse.events[1]!.event.data).toEqual({ id: 'o2', owner: 'ada' });
  });

  it('answers 401 without a socket when authorize says null, and filters per client', async () => {
    const rt = await g.runtime();
    const server = await g.listen<Claims>(rt, {
      gateway: {
        events: ['order.*'],
        authorize,
        filter: (claims, event) => (event.data as { owner: string }).owner === claims.user,
      },
    });
    expect(await refusedUpgrade(`${server.url}/events`)).toBe(401);
    const anon = g.track(new SseTestClient(`${server.url}/events/sse?subscribe=order.*`));
    await until(() => anon.ended, 'the refused stream to end');
    expect(anon.status).toBe(401);
    const adaWs = g.track(new WsTestClient(`${server.url}/events`, auth('ada')));
    const bobSse = g.track(new SseTestClient(`${server.url}/events/sse?subscribe=order.*`, auth('bob')));
    await adaWs.subscribe(['order.*']);
    await until(() => adaWs.subscribed !== undefined && bobSse.named.length > 0, 'both subscribed');
    const receipts = [];
    for (const owner of ['ada', 'bob', 'ada', 'eve', 'bob'])
      receipts.push(await rt.publish('order.placed', { id: `o-${receipts.length}`, owner }));
    await until(() => adaWs.events.length === 2 && bobSse.events.length === 2, 'each owner’s orders');
    expect(adaWs.seqs).toEqual([receipts[0]!.seq, receipts[2]!.seq]);
    expect(bobSse.seqs).toEqual([receipts[1]!.seq, receipts[4]!.seq]);
    expect(server.gateway?.stats().refused.unauthorized).toBe(2);
  });

  it('refuses patterns outside its events: an error message on the socket, 400 on SSE', async () => {
    const rt = await g.runtime();
    const server = await g.listen(rt, { gateway: { events: ['order.*', 'user.created'] } });
    const ws = g.track(new WsTestClient(`${server.url}/events`));
    await ws.subscribe(['order.*', 'secret.rotated']);
    await until(() => ws.errors.length === 1, 'the refusal');
    expect(ws.errors[0]).toMatch(/not allowed: secret\.rotated/);
    await ws.subscribe(['>']);
    await until(() => ws.errors.length === 2, 'the second refusal');
    expect(ws.closed).toBeUndefined();
    // Still usable: a subscription within the events is then accepted.
    await ws.subscribe(['order.placed', 'user.created']);
    await until(() => ws.subscribed !== undefined, 'subscribed');
    const sse = g.track(new SseTestClient(`${server.url}/events/sse?subscribe=order.>`));
    await until(() => sse.ended, 'the refused stream to end');
    expect(sse.status).toBe(400);
    expect(sse.body).toMatch(/not allowed: order\.>/);
    const published = await rt.publish('secret.rotated', { key: 'k' });
    const user = await rt.publish('user.created', { id: 'u' });
    await until(() => ws.events.length === 1, 'the user event');
    expect(ws.seqs).toEqual([user.seq]);
    expect(published.seq).toBeLessThan(user.seq!);
  });

  it('refuses an upgrade to another path with 404 and a client beyond maxClients with 503', async () => {
    const rt = await g.runtime();
    const server = await g.listen(rt, { gateway: { events: ['order.*'], maxClients: 1 } });
    expect(await refusedUpgrade(`${server.url}/elsewhere`)).toBe(404);
    const first = g.track(new WsTestClient(`${server.url}/events`));
    await first.subscribe(['order.*']);
    await until(() => server.gateway!.stats().clients === 1, 'one client');
    expect(await refusedUpgrade(`${server.url}/events`)).toBe(503);
    const sse = g.track(new SseTestClient(`${server.url}/events/sse?subscribe=order.*`));
    await until(() => sse.ended, 'the refused stream');
    expect(sse.status).toBe(503);
  });
});
