// Browsers following events live: a page subscribes to `order.*` over the gateway's WebSocket and,
// when the connection drops (a deploy, a restart), reconnects with backoff and the last seq it saw,
// so it misses nothing the stream still holds.
// Run: npx tsx examples/08-browser-gateway.ts                 (memory transport; open the printed page)
//      NATS_URL=nats://127.0.0.1:4222 npx tsx examples/08-browser-gateway.ts   (restart it: the page resumes)
// Env: PORT (the gateway, default 8088), PAGE_PORT (the page, default 8089), NATS_PREFIX (default
// 'bulwark'), DEMO_ORDERS=0 (publish no demo orders).
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { z } from 'zod';
import { createRuntime, defineEvents, memoryTransport, natsTransport } from 'bulwark';

const events = defineEvents({
  'order.placed': z.object({ id: z.string(), owner: z.string(), totalCents: z.number().int() }),
  'order.shipped': z.object({ id: z.string(), owner: z.string() }),
  'user.created': z.object({ id: z.string() }),
});

/** The browser side: one WebSocket, resubscribed after every drop with the last seq seen. */
function clientScript(gatewayUrl: string): string {
  return `
const state = (window.gateway = { received: [], last: undefined, status: 'connecting', errors: [] });
const list = document.getElementById('events');
const show = (s) => { state.status = s; document.getElementById('status').textContent = s; };
function connect(attempt) {
  const ws = new WebSocket(${JSON.stringify(gatewayUrl)});
  ws.onopen = () => {
    attempt = 0;
    const from = state.last === undefined ? {} : { from: state.last };
    ws.send(JSON.stringify({ subscribe: ['order.*'], ...from }));
  };
  ws.onmessage = (m) => {
    const msg = JSON.parse(m.data);
    if (msg.subscribed) return show('live');
    if (msg.error) return state.errors.push(msg.error);
    state.last = msg.seq;
    state.received.push(msg.seq);
    const li = document.createElement('li');
    li.textContent = '#' + msg.seq + ' ' + msg.event.type + ' ' + JSON.stringify(msg.event.data);
    list.prepend(li);
  };
  ws.onclose = () => {
    show('reconnecting');
    // Exponential backoff with jitter, at most 5 s: a restarting server is not stampeded.
    const delay = Math.min(5000, 250 * 2 ** attempt) * (0.5 + Math.random() / 2);
    setTimeout(() => connect(attempt + 1), delay);
  };
}
connect(0);`;
}

/** The page: a status line and the events, newest first. */
function gatewayPage(gatewayUrl: string): string {
  return `<!DOCTYPE html><html><head><meta charset="utf-8"><title>bulwark · orders</title>
<style>body{font:14px system-ui;margin:2rem}#status{font-weight:bold}li{font-family:monospace}</style></head>
<body><h1>Orders</h1><p>gateway: <span id="status">connecting</span></p><ol id="events"></ol>
<script>${clientScript(gatewayUrl)}</script></body></html>`;
}

const port = Number(process.env.PORT ?? 8088);
const natsUrl = process.env.NATS_URL;
const rt = await createRuntime({
  service: 'storefront',
  events,
  logger: pino({ level: process.env.LOG_LEVEL ?? 'warn' }),
  transport: natsUrl
    ? natsTransport({ servers: natsUrl, prefix: process.env.NATS_PREFIX ?? 'bulwark' })
    : memoryTransport(),
});
const server = await rt.listen({
  port,
  allowedHosts: ['localhost', '127.0.0.1'],
  gateway: {
    events: ['order.*'],
    // A real service reads its session cookie here (and checks req.headers.origin); null is a 401.
    authorize: () => ({ user: 'demo' }),
    // Each browser sees its own user's orders only.
    filter: (claims, event) => (event.data as { owner?: string }).owner === claims.user,
  },
});
const gatewayUrl = `${server.url.replace(/^http/, 'ws')}/events`;

const pages = createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(gatewayPage(gatewayUrl));
});
await new Promise<void>((resolve) =>
  pages.listen(Number(process.env.PAGE_PORT ?? 8089), '127.0.0.1', resolve),
);
rt.onShutdown(() => new Promise<void>((resolve) => pages.close(() => resolve())), 'intake');

let n = 0;
if (process.env.DEMO_ORDERS !== '0') {
  const ticker = setInterval(() => {
    n++;
    rt.publish('order.placed', { id: `o-${n}`, owner: 'demo', totalCents: 100 * n }).catch((err: unknown) =>
      console.warn('publish failed:', err),
    );
  }, 1_000);
  rt.onShutdown(async () => clearInterval(ticker), 'intake');
}

console.log(`gateway: ${gatewayUrl}`);
console.log(`page: http://127.0.0.1:${(pages.address() as AddressInfo).port}/`);
// Ctrl-C (SIGINT) or SIGTERM shuts the runtime down gracefully; the page then reconnects to the next one.
