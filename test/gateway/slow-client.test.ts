import { request, type IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { transportCases } from '../support/transports.js';
import { until, within } from '../support/wait.js';
import { useGateway } from './harness.js';
import { RawWsClient } from './raw-socket.js';
import { WsTestClient } from './support.js';

/** An SSE request whose response the test stops reading. */
function pausedSse(url: string): Promise<{ res: IncomingMessage; text: () => string }> {
  return within(
    new Promise((resolve, reject) => {
      request(url, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.pause();
        resolve({ res, text: () => text });
      })
        .on('error', reject)
        .end();
    }),
    { what: 'the SSE response' },
  );
}

const NOTE = 'x'.repeat(48 * 1024);

describe.each(transportCases)('a slow gateway client on $name', (c) => {
  const g = useGateway(c);

  it('is disconnected with a reason at its buffer bound while other clients and publishing go on', async () => {
    const rt = await g.runtime();
    const server = await g.listen(rt, { gateway: { events: ['order.*'], maxBufferedBytes: 256 * 1024 } });
    const good = g.track(new WsTestClient(`${server.url}/events`));
    await good.subscribe(['order.placed']);
    const stalled = await RawWsClient.open(`${server.url}/events`);
    stalled.sendText('{"subscribe":["order.*"]}');
    await until(() => stalled.messages().length === 1 && good.subscribed !== undefined, 'subscriptions');
    stalled.socket.pause();
    const sse = await pausedSse(`${server.url}/events/sse?subscribe=order.*`);
    await until(() => server.gateway!.stats().clients === 3, 'three clients');

    const seqs: number[] = [];
    const gone = () => server.gateway!.stats().disconnected.slow;
    // Kernel buffers on loopback take megabytes before the gateway's own bound is reached.
    for (let i = 0; gone() < 2 && i < 1_000; i++) {
      seqs.push((await rt.publish('order.placed', { id: `o${i}`, owner: 'ada', note: NOTE })).seq!);
      if (i % 20 === 19) await until(() => good.events.length === seqs.length, 'the good client');
    }
    expect(gone()).toBe(2);
    expect(server.gateway!.stats().clients).toBe(1);
    seqs.push((await rt.publish('order.placed', { id: 'after', owner: 'ada' })).seq!);
    await until(() => good.events.length === seqs.length, 'every event at the good client', 20_000);
    expect(good.seqs).toEqual(seqs);
    expect(good.closed).toBeUndefined();

    // Reading again, each slow client finds the reason after what was queued for it.
    stalled.socket.resume();
    await until(() => stalled.closeFrame() !== undefined, 'the close frame', 20_000);
    expect(stalled.closeFrame()).toEqual({ code: 1013, reason: expect.stringMatching(/too slow/) as string });
    stalled.close();
    sse.res.resume();
    await until(() => sse.res.complete, 'the end of the SSE stream', 20_000);
    expect(sse.text()).toMatch(/event: error\ndata: \{"reason":"slow","message":"client too slow[^\n]*\n\n$/);
  });
});
