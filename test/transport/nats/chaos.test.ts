import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { Names } from '../../../src/transport/nats/toolkit/names.js';
import { isBackpressureError } from '../../../src/errors.js';
import { natsTransport } from '../../../src/transport/nats/nats-transport.js';
import type { PublishReceipt, Transport } from '../../../src/transport/transport.js';
import { startNatsServer } from '../../setup/nats-server.js';
import { Collector, ctx, dropStreams, idOf, outbound, uniquePrefix } from './helpers.js';

const url = inject('natsUrl');

/** Starts the fixture subscriber process; `onId` sees every handled id. */
function consumerProcess(
  prefix: string,
  onId: (id: string) => void,
): { child: ChildProcess; ready: Promise<void> } {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'test/fixtures/nats-consumer.ts', url, prefix, '2000'],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const ready = new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`consumer exited early (${code})`)));
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (line === 'ready') resolve();
      else onId(line);
    });
  });
  return { child, ready };
}

function waitUntil(check: () => boolean, ms: number, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const timer = setInterval(() => {
      if (check()) {
        clearInterval(timer);
        resolve();
      } else if (Date.now() - started > ms) {
        clearInterval(timer);
        reject(new Error(`timed out waiting for ${what}`));
      }
    }, 10);
  });
}

describe('NATS chaos', () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn().catch(() => undefined);
  });

  it('(a) a consumer process killed halfway through 5,000 events: the next one handles the rest', async () => {
    const prefix = uniquePrefix();
    const publisher = natsTransport({ servers: url, prefix });
    await publisher.start(ctx);
    cleanup.push(
      () => dropStreams(url, prefix),
      () => publisher.close(),
    );
    const handled = new Map<string, number>();
    let killed = false;
    let atKill = 0;
    const ids = Array.from({ length: 5_000 }, (_, i) => `u${i}`);
    const user = (id: string) => ({ id, username: id, role: 'user' });
    for (let i = 0; i < ids.length; i += 500) {
      await publisher.publishMany(ids.slice(i, i + 500).map((id) => outbound('user.created', user(id))));
    }

    const first = consumerProcess(prefix, (id) => {
      // Lines that arrive after the kill was sent were still handled (and maybe acked) before it landed.
      handled.set(id, (handled.get(id) ?? 0) + 1);
      if (!killed && handled.size >= 2_500) {
        killed = true;
        atKill = handled.size;
        first.child.kill('SIGKILL');
      }
    });
    cleanup.push(async () => void first.child.kill('SIGKILL'));
    await first.ready.catch(() => undefined);
    await waitUntil(() => killed, 30_000, 'half of the events');
    const count = (id: string): void => void handled.set(id, (handled.get(id) ?? 0) + 1);

    const second = consumerProcess(prefix, count);
    cleanup.push(async () => void second.child.kill('SIGKILL'));
    await second.ready;
    await waitUntil(() => handled.size === 5_000, 40_000, 'every event handled').catch(async (err) => {
      // What the broker holds when the rest does not arrive: pending, ack-pending, waiting pulls.
      const nc = await connect({ servers: url });
      const jsm = await jetstreamManager(nc);
      const stream = new Names(prefix).eventsStream;
      for await (const c of jsm.consumers.list(stream)) {
        const { name, num_pending, num_ack_pending, num_redelivered, num_waiting } = c;
        console.error('chaos (a) stalled', handled.size, {
          name,
          num_pending,
          num_ack_pending,
          num_redelivered,
          num_waiting,
        });
      }
      await nc.close();
      throw err;
    });
    const twice = [...handled.values()].filter((n) => n > 1).length;
    console.log(
      `chaos (a): 5000 published, ${atKill} handled before SIGKILL, 5000 handled in all, ${twice} twice`,
    );
    expect(ids.every((id) => handled.has(id))).toBe(true);
  }, 60_000);

  it('(b) the server stopped and restarted while publishing 2,000 events: all are delivered', async () => {
    const server = await startNatsServer();
    cleanup.push(() => server.dispose());
    const prefix = uniquePrefix();
    const t = natsTransport({ servers: server.url, prefix, requestTimeoutMs: 2_000 });
    await t.start(ctx);
    cleanup.push(() => t.close());
    let peakOutbox = 0;
    const receipts: PublishReceipt[] = [];
    const publishing = publishInWindows(t, 2_000, 100, receipts, () => {
      peakOutbox = Math.max(peakOutbox, t.status().outboxSize ?? 0);
    });
    publishing.catch(() => undefined); // awaited below; a failed test must not leave it unhandled
    await waitUntil(() => receipts.length >= 700, 20_000, '700 stored');
    await server.stop();
    const resolvedBeforeStop = receipts.length;
    // Every publisher in the window is now waiting on the outbox (those in flight at the stop join it too).
    await waitUntil(() => (t.status().outboxSize ?? 0) >= 100, 20_000, 'the outbox to fill');
    peakOutbox = Math.max(peakOutbox, t.status().outboxSize ?? 0);
    await server.start();
    await publishing;
    expect(receipts).toHaveLength(2_000);
    expect(t.status().outboxSize).toBe(0);

    const sink = new Collector((d) => d.ack());
    const h = t.consume({ type: 'x', group: 'g', mode: 'group', maxInFlight: 500, instanceId: 'i' }, sink);
    await sink.waitFor(2_000, 30_000);
    const distinct = new Set(sink.deliveries.map(idOf));
    console.log(
      `chaos (b): 2000 published, ${resolvedBeforeStop} stored before the stop, outbox peak ${peakOutbox}, ` +
        `${distinct.size} distinct delivered, ${receipts.filter((r) => r.duplicate).length} duplicates reported`,
    );
    expect(distinct.size).toBe(2_000);
    await h.stop();
  }, 60_000);

  it('rejects with BackpressureError when the outbox is full, and flushes in order on reconnect', async () => {
    const server = await startNatsServer();
    cleanup.push(() => server.dispose());
    const prefix = uniquePrefix();
    const t = natsTransport({ servers: server.url, prefix, outbox: { maxMessages: 5 } });
    await t.start(ctx);
    cleanup.push(() => t.close());
    const states: string[] = [];
    t.onStatus((s) => states.push(s.state));
    await server.stop();
    await waitUntil(() => !t.status().connected, 5_000, 'the disconnect');
    const queued = Array.from({ length: 5 }, (_, n) => t.publish(outbound('x', { n }, `q${n}`)));
    const refused = await t.publish(outbound('x', { n: 5 })).catch((e: unknown) => e);
    expect(isBackpressureError(refused)).toBe(true);
    expect(t.status().outboxSize).toBe(5);
    await server.start();
    const stored = await Promise.all(queued);
    expect(stored.map((r) => r.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(states).toContain('connected');
  }, 30_000);

  it('(d) a process killed with events in its outbox file: the next one publishes them, in order', async () => {
    const server = await startNatsServer();
    cleanup.push(() => server.dispose());
    const prefix = uniquePrefix();
    const dir = mkdtempSync(join(tmpdir(), 'bulwark-outbox-'));
    cleanup.push(async () => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'outbox.jsonl');
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'test/fixtures/outbox-publisher.ts', server.url, prefix, file],
      { stdio: ['pipe', 'pipe', 'inherit'] },
    );
    cleanup.push(async () => void child.kill('SIGKILL'));
    const lines = createInterface({ input: child.stdout });
    const said = (what: string) => new Promise<void>((r) => lines.on('line', (l) => l === what && r()));
    const ready = said('ready');
    await ready;
    await server.stop();
    const queued = said('queued');
    child.stdin.write('publish 20\n');
    await queued;
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));

    await server.start();
    const next = natsTransport({ servers: server.url, prefix, outbox: { file } });
    await next.start(ctx);
    cleanup.push(() => next.close());
    const nc = await connect({ servers: server.url });
    cleanup.push(() => nc.close());
    const jsm = await jetstreamManager(nc);
    const stream = new Names(prefix).eventsStream;
    await waitUntil(() => next.status().outboxSize === 0, 10_000, 'the outbox flushed');
    const ids: string[] = [];
    for (let seq = 1; seq <= 20; seq++) {
      const m = await jsm.streams.getMessage(stream, { seq });
      ids.push((JSON.parse(new TextDecoder().decode(m!.data)) as { data: { id: string } }).data.id);
    }
    expect(ids).toEqual(Array.from({ length: 20 }, (_, i) => `u${i}`));
    expect((await jsm.streams.info(stream)).state.messages).toBe(20);
    expect(readFileSync(file, 'utf8')).toBe('');
  }, 30_000);
});

/** Publishes `total` events, `window` at a time, recording each receipt as it resolves. */
async function publishInWindows(
  t: Transport,
  total: number,
  window: number,
  receipts: PublishReceipt[],
  tick: () => void,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < total) {
      const n = next++;
      const p = t.publish(outbound('x', { n }, `e${n}`));
      tick();
      receipts.push(await p);
      await new Promise((r) => setImmediate(r));
    }
  };
  await Promise.all(Array.from({ length: window }, worker));
}
