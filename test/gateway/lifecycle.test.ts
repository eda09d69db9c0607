import { describe, expect, it } from 'vitest';
import { isValidationError } from '../../src/errors.js';
import { transportCase } from '../support/transports.js';
import { until } from '../support/wait.js';
import { useGateway } from './harness.js';
import { RawWsClient } from './raw-socket.js';
import { SseTestClient, WsTestClient } from './support.js';

describe('gateway heartbeats and shutdown', () => {
  const g = useGateway(transportCase('memory'));

  it('pings WebSockets, comments on SSE streams, and drops a socket that stops answering pings', async () => {
    const rt = await g.runtime();
    const server = await g.listen(rt, { gateway: { events: ['order.*'], heartbeatMs: 40 } });
    const answering = g.track(new WsTestClient(`${server.url}/events`));
    let pings = 0;
    answering.ws.on('ping', () => pings++);
    await answering.subscribe(['order.*']);
    const sse = g.track(new SseTestClient(`${server.url}/events/sse?subscribe=order.*`));
    let comments = 0;
    sse.onRaw = (chunk) => (comments += chunk.split(': ping\n\n').length - 1);
    // Answers nothing: node:http's socket does not reply to pings by itself.
    const mute = await RawWsClient.open(`${server.url}/events`);
    mute.sendText('{"subscribe":["order.*"]}');
    await until(() => server.gateway!.stats().disconnected.heartbeat === 1, 'the mute socket to be dropped');
    await until(() => mute.ended, 'the mute socket to close');
    expect(mute.closeFrame()).toBeUndefined();
    await until(() => pings >= 3 && comments >= 3, 'pings and comments');
    expect(answering.closed).toBeUndefined();
    expect(sse.ended).toBe(false);
    expect(server.gateway!.stats().clients).toBe(2);
  });

  it('refuses bad gateway options with a ValidationError, binding nothing', async () => {
    const rt = await g.runtime();
    for (const gateway of [
      { events: [] },
      { events: ['order.>.x'] },
      { events: ['invoice.*'] }, // matches no registered type
      { events: ['order.*'], heartbeatMs: 0 },
      { events: ['order.*'], maxBufferedBytes: 1.5 },
      { events: ['order.*'], path: 'events' },
    ])
      await expect(g.listen(rt, { gateway })).rejects.toSatisfy(isValidationError);
  });

  it('closes WebSockets with 1001 and ends SSE streams at shutdown', async () => {
    const rt = await g.runtime();
    const server = await g.listen(rt, { gateway: { events: ['order.*'] } });
    const ws = g.track(new WsTestClient(`${server.url}/events`));
    await ws.subscribe(['order.*']);
    const sse = g.track(new SseTestClient(`${server.url}/events/sse?subscribe=order.*`));
    await until(() => ws.subscribed !== undefined && sse.named.length === 1, 'both subscribed');
    await rt.shutdown();
    await until(() => ws.closed !== undefined && sse.ended, 'both closed');
    expect(ws.closed).toEqual({ code: 1001, reason: 'the server is shutting down' });
    expect(sse.named.at(-1)).toEqual({
      event: 'error',
      data: { reason: 'closing', message: 'the server is shutting down' },
    });
    expect(server.gateway!.stats()).toMatchObject({ clients: 0, disconnected: { closing: 2 } });
  });
});
