import { describe, expect, it } from 'vitest';
import { transportCases } from '../support/transports.js';
import { until } from '../support/wait.js';
import { useGateway, type GatewayRuntime } from './harness.js';
import { SseTestClient, WsTestClient } from './support.js';

async function place(rt: GatewayRuntime, n: number, owner = 'ada'): Promise<number[]> {
  const seqs: number[] = [];
  for (let i = 0; i < n; i++) seqs.push((await rt.publish('order.placed', { id: `o${i}`, owner })).seq!);
  return seqs;
}

describe.each(transportCases)('resuming gateway clients on $name', (c) => {
  const g = useGateway(c);

  it('sends a client that reconnects with its last seq what it missed, then live events, once each', async () => {
    const rt = await g.runtime();
    const server = await g.listen(rt, { gateway: { events: ['order.*'] } });
    const first = g.track(new WsTestClient(`${server.url}/events`));
    await first.subscribe(['order.placed']);
    await until(() => first.subscribed !== undefined, 'subscribed');
    const before = await place(rt, 3);
    await until(() => first.events.length === 3, 'three events');
    first.close();
    await until(() => server.gateway!.stats().clients === 0, 'the client to leave');
    const missed = await place(rt, 4);
    const again = g.track(new WsTestClient(`${server.url}/events`));
    await again.subscribe(['order.placed'], first.seqs.at(-1));
    await until(() => again.events.length === 4, 'the missed events');
    const live = await place(rt, 2);
    await until(() => again.events.length === 6, 'live events');
    expect(first.seqs).toEqual(before);
    expect(again.seqs).toEqual([...missed, ...live]);
  });

  it('reads history for a seq older than it retains, and after a restart of the server', async () => {
    const rt = await g.runtime();
    const gateway = { events: ['order.*'], retainEvents: 2 };
    let server = await g.listen(rt, { gateway });
    const early = await place(rt, 5);
    const client = g.track(new WsTestClient(`${server.url}/events`));
    await client.subscribe(['order.*'], early[0]);
    await until(() => client.events.length === 4, 'events past the ring');
    expect(client.seqs).toEqual(early.slice(1));
    const port = Number(new URL(server.url).port);
    await server.close();
    const whileDown = await place(rt, 3);
    server = await g.listen(rt, { port, gateway });
    const back = g.track(new WsTestClient(`${server.url}/events`));
    await back.subscribe(['order.*'], client.seqs.at(-1));
    await until(() => back.events.length === 3, 'events published while down');
    const after = await place(rt, 2);
    await until(() => back.events.length === 5, 'live events');
    expect(back.seqs).toEqual([...whileDown, ...after]);
  });

  it('resumes an SSE stream from Last-Event-ID, applying the filter to what it missed', async () => {
    const rt = await g.runtime();
    const server = await g.listen<{ user: string }>(rt, {
      gateway: {
        events: ['order.*'],
        authorize: () => ({ user: 'ada' }),
        filter: (claims, e) => (e.data as { owner: string }).owner === claims.user,
      },
    });
    const mine = await place(rt, 2, 'ada');
    await place(rt, 2, 'bob');
    const later = await place(rt, 1, 'ada');
    const sse = g.track(
      new SseTestClient(`${server.url}/events/sse?subscribe=order.*&from=0`, {
        'last-event-id': String(mine[0]),
      }),
    );
    await until(() => sse.events.length === 2, 'the missed events of ada');
    expect(sse.seqs).toEqual([mine[1], later[0]]);
    expect(sse.ids).toEqual([String(mine[1]), String(later[0])]);
  });
});
