// Watching a running service in the Stately inspector, through a relay on loopback.
// Run: npx tsx examples/07-inspector.ts            (a scripted scenario, then it exits)
//      INSPECT_KEEP=1 npx tsx examples/07-inspector.ts   (keeps running: open the printed URL)
// Needs the dev dependencies `@statelyai/inspect` and `ws`.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createWebSocketInspector } from '@statelyai/inspect';
import { pino } from 'pino';
import { WebSocket, WebSocketServer } from 'ws';
import { z } from 'zod';
import { createRuntime, defineEvents, fixed } from 'bulwark';

/**
 * The relay: a page that embeds the Stately inspector and a WebSocket that carries the service's
 * inspection events to it. It listens on 127.0.0.1 only, on a port of its own (4242 by default,
 * never the dashboard's), and keeps the last 2,000 events for a page that connects late.
 */
export async function startRelay(port = Number(process.env.INSPECT_PORT ?? 4242)) {
  const page = (wsUrl: string) => `<!DOCTYPE html><html><head><title>bulwark · Stately inspector</title>
<style>*{margin:0;padding:0}html,body{height:100%}iframe{width:100%;height:100%;border:none}</style></head>
<body><iframe id="inspector" src="https://stately.ai/inspect"></iframe><script>
const iframe = document.getElementById('inspector'); const buffer = []; let connected = false;
window.addEventListener('message', (e) => { if (e.data && e.data.type === '@statelyai.connected') {
  connected = true; for (const m of buffer.splice(0)) iframe.contentWindow.postMessage(m, '*'); } });
new WebSocket(${JSON.stringify(wsUrl)}).onmessage = (e) => { const m = JSON.parse(e.data);
  if (connected) iframe.contentWindow.postMessage(m, '*'); else buffer.push(m); };
</script></body></html>`;
  const http = createServer();
  const wss = new WebSocketServer({ server: http });
  const kept: string[] = [];
  wss.on('connection', (socket) => {
    for (const m of kept) socket.send(m);
    socket.on('message', (data: Buffer) => {
      const m = data.toString();
      kept.push(m);
      if (kept.length > 2_000) kept.shift();
      for (const c of wss.clients) if (c !== socket && c.readyState === WebSocket.OPEN) c.send(m);
    });
  });
  await new Promise<void>((resolve) => http.listen(port, '127.0.0.1', resolve));
  const { port: bound } = http.address() as AddressInfo;
  const url = `ws://127.0.0.1:${bound}`;
  http.on('request', (_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end(page(url)));
  return {
    url,
    page: `http://127.0.0.1:${bound}`,
    stop: () => new Promise<void>((resolve) => wss.close(() => http.close(() => resolve()))),
  };
}

const relay = await startRelay();
const inspector = createWebSocketInspector({ url: relay.url });
console.log(`inspector page: ${relay.page}`);

const events = defineEvents({ 'user.created': z.object({ id: z.string(), email: z.string() }) });
const rt = await createRuntime({
  service: 'accounts',
  events,
  logger: pino({ level: 'error' }),
  inspect: inspector.inspect,
});

// A subscriber that fails once per event, a queue whose jobs fail their first try, a breaker that trips.
const seen = new Set<string>();
await rt.subscribe(
  'user.created',
  (user) => {
    if (!seen.has(user.id)) {
      seen.add(user.id);
      throw new Error('mailer busy');
    }
  },
  { group: 'mailer', backoff: fixed({ delayMs: 200 }) },
).ready;
const emails = rt.queue<string>('emails', { backoff: fixed({ delayMs: 300 }) });
emails.process((job) => {
  if (job.attempt === 1) throw new Error('smtp timeout');
});
const stripe = rt.breaker('stripe', { failureThreshold: 2, resetTimeoutMs: 500 });

for (let i = 1; i <= 3; i++) {
  await rt.publish('user.created', { id: String(i), email: `user${i}@example.com` });
  await emails.add('welcome', `user${i}@example.com`);
  await stripe.execute(() => Promise.reject(new Error('card declined'))).catch(() => undefined);
}
await new Promise((r) => setTimeout(r, 1_500));
await stripe.execute(async () => 'charged').catch(() => undefined);

console.log(
  rt.actors
    .list()
    .map((a) => `${a.id.padEnd(36)} ${a.machine.padEnd(16)} ${a.state}`)
    .join('\n'),
);
console.log(`supervisor: ${String(rt.supervisor.getSnapshot().value)}`);

if (!process.env.INSPECT_KEEP) {
  await rt.shutdown();
  inspector.stop();
  await relay.stop();
}
