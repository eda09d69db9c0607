// The client fleet of bench/gateway.bench.ts, as a child process (the machine's other core): `ws`
// clients that report how many messages they received (coalesced, over IPC) and time the arrivals
// of a sample against the publish time carried in each event.
// Args: <url> <subscribe message or ''> <clients> <sampled>
import { performance } from 'node:perf_hooks';
import { WebSocket } from 'ws';

/** Messages from the fleet to the bench. */
export type FleetReport =
  | { readonly kind: 'ready' }
  | { readonly kind: 'delivered'; readonly count: number }
  | { readonly kind: 'latencies'; readonly values: number[] };

const [url = '', subscribe = '', clientsArg = '1000', sampledArg = '20'] = process.argv.slice(2);
const clients = Number(clientsArg);
const every = Math.floor(clients / Number(sampledArg));
const sockets: WebSocket[] = [];
let delivered = 0;
let flushing = false;
let latencies: number[] = [];
const now = () => performance.timeOrigin + performance.now();
const report = (r: FleetReport) => process.send!(r);

function counted(): void {
  delivered++;
  if (flushing) return;
  flushing = true;
  setImmediate(() => {
    flushing = false;
    report({ kind: 'delivered', count: delivered });
  });
}

function open(sampled: boolean): Promise<void> {
  const ws = new WebSocket(url);
  sockets.push(ws);
  return new Promise((resolve, reject) => {
    let ready = subscribe === '';
    ws.once('error', reject);
    ws.once('open', () => (subscribe === '' ? resolve() : ws.send(subscribe)));
    ws.on('message', (msg: Buffer) => {
      if (!ready) {
        ready = true;
        return resolve();
      }
      counted();
      if (sampled) {
        const sent = (JSON.parse(msg.toString()) as { event: { data: { t: number } } }).event.data.t;
        latencies.push(now() - sent);
      }
    });
  });
}

for (let batch = 0; batch < clients; batch += 100) {
  const opened: Promise<void>[] = [];
  for (let i = batch; i < Math.min(clients, batch + 100); i++) opened.push(open(i % every === every - 1));
  await Promise.all(opened);
}
report({ kind: 'ready' });

process.on('message', (m: 'latencies' | 'close') => {
  if (m === 'latencies') {
    report({ kind: 'latencies', values: latencies });
    latencies = [];
    return;
  }
  for (const ws of sockets) ws.terminate();
  process.disconnect();
});
