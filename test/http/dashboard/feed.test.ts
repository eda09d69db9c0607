import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createBreaker } from '../../../src/breaker/create-breaker.js';
import { DashboardFeed } from '../../../src/http/dashboard/feed.js';
import type { DashboardSnapshot } from '../../../src/http/dashboard/snapshot.js';
import { quiet } from '../../support/wait.js';

/** How long the feed gathers changes before it reads a snapshot. */
const COALESCE_MS = 25;

/** Reads server-sent `snapshot` events from a stream, one at a time. */
async function* frames(url: string, signal: AbortSignal): AsyncGenerator<DashboardSnapshot> {
  const res = await fetch(url, { signal });
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const frame = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = /^data: (.*)$/m.exec(frame)?.[1];
      if (frame.startsWith('event: snapshot') && data) yield JSON.parse(data) as DashboardSnapshot;
    }
  }
}

describe('dashboard feed', () => {
  let server: Server | undefined;
  afterEach(async () => {
    server?.closeAllConnections();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  });

  it('pushes at once on a breaker change or a watched change, and lets go of everything when the page leaves', async () => {
    const breaker = createBreaker('payments');
    let reads = 0;
    let changed: (() => void) | undefined;
    let unwatched = false;
    const feed = new DashboardFeed({
      read: () =>
        Promise.resolve({ status: breaker.stats().state, reads: ++reads } as unknown as DashboardSnapshot),
      breakers: () => [breaker],
      refreshMs: 60_000,
      coalesceMs: COALESCE_MS,
      watch: (c) => {
        changed = c;
        return () => (unwatched = true);
      },
    });
    server = createServer((req, res) => feed.attach(req, res));
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const abort = new AbortController();
    const stream = frames(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`, abort.signal);

    expect((await stream.next()).value).toMatchObject({ status: 'CLOSED' });
    let t = performance.now();
    breaker.open();
    expect((await stream.next()).value).toMatchObject({ status: 'OPEN' });
    expect(performance.now() - t).toBeLessThan(250);
    t = performance.now();
    changed!();
    expect((await stream.next()).value).toMatchObject({ reads: 3 });
    expect(performance.now() - t).toBeLessThan(250);

    abort.abort();
    await expect.poll(() => unwatched).toBe(true);
    const before = reads;
    breaker.close();
    // A change is read one coalescing interval after it happens; two of them without a read mean
    // the feed no longer listens (and the feed takes no clock to move instead).
    await quiet(2 * COALESCE_MS);
    expect(reads).toBe(before);
    feed.close();
    breaker.dispose();
  });

  it('reads one snapshot per update for every page; a page that joins gets the latest frame, the others nothing new', async () => {
    let reads = 0;
    const feed = new DashboardFeed({
      read: () => Promise.resolve({ reads: ++reads } as unknown as DashboardSnapshot),
      breakers: () => [],
      refreshMs: 60_000,
      coalesceMs: COALESCE_MS,
    });
    server = createServer((req, res) => feed.attach(req, res));
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    const abort = new AbortController();
    const first = frames(url, abort.signal);
    expect((await first.next()).value).toEqual({ reads: 1 });
    const second = frames(url, abort.signal);
    expect((await second.next()).value).toEqual({ reads: 1 });
    const third = frames(url, abort.signal);
    expect((await third.next()).value).toEqual({ reads: 1 });
    expect(feed.size).toBe(3);
    // Pages joining pushed nothing to the others and read nothing: the next frame anyone sees is the next update.
    await quiet(2 * COALESCE_MS);
    expect(reads).toBe(1);
    const next = first.next();
    feed.changed();
    expect((await next).value).toEqual({ reads: 2 });
    expect((await second.next()).value).toEqual({ reads: 2 });
    expect((await third.next()).value).toEqual({ reads: 2 });
    expect(reads).toBe(2);
    abort.abort();
    feed.close();
  });
});
