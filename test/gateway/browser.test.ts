import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { z } from 'zod';
import { defineEvents } from '../../src/events/registry.js';
import { createRuntime } from '../../src/runtime/create-runtime.js';
import type { Runtime } from '../../src/runtime/runtime.js';
import { testLogger } from '../support/events.js';
import { transportCase, type TestBus } from '../support/transports.js';
import { until, waitFor, within } from '../support/wait.js';
import { useBrowser } from '../http/dashboard/browser.js';

/** The registry of examples/08-browser-gateway.ts, for publishing to it from here. */
const events = defineEvents({
  'order.placed': z.object({ id: z.string(), owner: z.string(), totalCents: z.number().int() }),
  'order.shipped': z.object({ id: z.string(), owner: z.string() }),
  'user.created': z.object({ id: z.string() }),
});

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

/** examples/08-browser-gateway.ts as its own process, on NATS; resolves with its page's URL. */
async function startExample(bus: TestBus, port: number): Promise<{ child: ChildProcess; page: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'examples/08-browser-gateway.ts'], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: {
      ...process.env,
      NATS_URL: bus.url,
      NATS_PREFIX: bus.prefix,
      PORT: String(port),
      PAGE_PORT: '0',
      DEMO_ORDERS: '0',
    },
  });
  let out = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  await until(() => /^page: \S+$/m.test(out) || child.exitCode !== null, 'the example to start', 20_000);
  if (child.exitCode !== null) throw new Error(`the example exited with ${child.exitCode}`);
  return { child, page: /^page: (\S+)$/m.exec(out)![1]! };
}

async function stop(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await within(exited, { what: 'the example to exit', timeoutMs: 20_000 });
}

describe('the browser gateway in headless chromium, on NATS', () => {
  const { openPage } = useBrowser();
  let page: Page | undefined;
  let bus: TestBus | undefined;
  let publisher: Runtime<typeof events.schemas> | undefined;
  let example: ChildProcess | undefined;

  afterEach(async () => {
    await page?.close();
    await stop(example);
    await publisher?.shutdown();
    await bus?.dispose();
  });

  const received = (p: Page) =>
    p.evaluate(() => (window as unknown as { gateway: { received: number[] } }).gateway.received);
  const status = (p: Page) =>
    p.evaluate(() => (window as unknown as { gateway: { status: string } }).gateway.status);

  it('a page follows order.*, and after a server restart resumes from its last seq and misses nothing', async () => {
    bus = transportCase('nats').bus();
    publisher = await createRuntime({
      service: 'orders',
      events,
      transport: bus.transport(),
      logger: testLogger,
    });
    const port = await freePort();
    let started = await startExample(bus, port);
    example = started.child;
    const opened = await openPage();
    page = opened.page;
    await page.goto(started.page);
    await waitFor(async () => (await status(page!)) === 'live', { what: 'the page to subscribe' });

    const order = (i: number, owner = 'demo') => ({ id: `o-${i}`, owner, totalCents: i * 100 });
    const seqs: number[] = [];
    for (let i = 0; i < 3; i++) seqs.push((await publisher.publish('order.placed', order(i))).seq!);
    await publisher.publish('order.placed', order(99, 'someone-else')); // filtered out for this page
    await publisher.publish('user.created', { id: 'u1' }); // not a pattern it subscribed to
    await waitFor(async () => (await received(page!)).length === 3, { what: 'the first orders' });

    await stop(example);
    await waitFor(async () => (await status(page!)) === 'reconnecting', { what: 'the page to notice' });
    for (let i = 3; i < 7; i++) {
      const receipt =
        i % 2
          ? await publisher.publish('order.shipped', { id: `o-${i}`, owner: 'demo' })
          : await publisher.publish('order.placed', order(i));
      seqs.push(receipt.seq!);
    }
    started = await startExample(bus, port);
    example = started.child;
    await waitFor(async () => (await received(page!)).length === 7, {
      what: 'the orders published while the server was down',
      timeoutMs: 20_000,
    });
    for (let i = 7; i < 9; i++) seqs.push((await publisher.publish('order.placed', order(i))).seq!);
    await waitFor(async () => (await received(page!)).length === 9, {
      what: 'live orders after the restart',
    });

    expect(await received(page)).toEqual(seqs);
    expect(await status(page)).toBe('live');
    expect(opened.errors.filter((e) => !/WebSocket connection|ERR_CONNECTION_REFUSED/.test(e))).toEqual([]);
  });

  it('refuses a page without a session: 401 for its stream, no WebSocket; with the cookie it gets events', async () => {
    publisher = await createRuntime({ service: 'web', events, logger: testLogger, handleSignals: false });
    const rt = publisher;
    const server = await rt.listen({
      port: 0,
      gateway: {
        events: ['order.*'],
        authorize: (req) =>
          /(^|; )session=ok(;|$)/.test(req.headers.cookie ?? '') ? { user: 'demo' } : null,
      },
    });
    const opened = await openPage();
    page = opened.page;
    await page.goto(`${server.url}/health/live`);
    const attempt = (url: string) =>
      page!.evaluate(async (wsUrl) => {
        const sse = (await fetch('/events/sse?subscribe=order.*')).status;
        const ws = await new Promise<string>((resolve) => {
          const socket = new WebSocket(wsUrl);
          socket.onopen = () => socket.send(JSON.stringify({ subscribe: ['order.*'] }));
          socket.onmessage = (m) => {
            const msg = JSON.parse(String(m.data)) as { seq?: number };
            if (msg.seq !== undefined) resolve(`event ${msg.seq}`);
            else (window as unknown as { subscribed: boolean }).subscribed = true;
          };
          socket.onclose = (e) => resolve(`closed ${e.code}`);
        });
        return { sse, ws };
      }, url);
    const wsUrl = `${server.url.replace(/^http/, 'ws')}/events`;
    expect(await attempt(wsUrl)).toEqual({ sse: 401, ws: 'closed 1006' });
    expect(server.gateway!.stats().refused.unauthorized).toBe(2);

    await page.evaluate(() => (document.cookie = 'session=ok; path=/'));
    const admitted = attempt(wsUrl);
    await waitFor(
      () => page!.evaluate(() => (window as unknown as { subscribed?: boolean }).subscribed === true),
      {
        what: 'the page to subscribe',
      },
    );
    const { seq } = await rt.publish('order.placed', { id: 'o1', owner: 'demo', totalCents: 1 });
    expect(await admitted).toEqual({ sse: 200, ws: `event ${seq}` });
  });
});
