import { request, type IncomingMessage } from 'node:http';
import { z } from 'zod';
import { WebSocket } from 'ws';
import { defineEvents } from '../../src/events/registry.js';
import type { CloudEvent } from '../../src/events/cloudevent.js';
import { within } from '../support/wait.js';

/** The registry the gateway tests publish with: two order types, a user type, one kept from browsers. */
export const gatewayEvents = defineEvents({
  'order.placed': z.object({ id: z.string(), owner: z.string(), note: z.string().optional() }),
  'order.shipped': z.object({ id: z.string(), owner: z.string() }),
  'user.created': z.object({ id: z.string() }),
  'secret.rotated': z.object({ key: z.string() }),
});

/** What a client receives: an event with its seq. */
export interface Received {
  readonly seq: number;
  readonly event: CloudEvent;
}

/** A node `ws` client that records what the gateway sends. */
export class WsTestClient {
  readonly events: Received[] = [];
  readonly errors: string[] = [];
  subscribed: string[] | undefined;
  closed: { code: number; reason: string } | undefined;
  private readonly opened: Promise<void>;

  readonly ws: WebSocket;

  constructor(url: string, headers: Record<string, string> = {}) {
    const ws = (this.ws = new WebSocket(url.replace(/^http/, 'ws'), { headers }));
    this.opened = new Promise((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    ws.on('message', (data) => {
      const msg = JSON.parse((data as Buffer).toString('utf8')) as {
        seq?: number;
        event?: CloudEvent;
        error?: string;
        subscribed?: string[];
      };
      if (msg.error !== undefined) this.errors.push(msg.error);
      else if (msg.subscribed !== undefined) this.subscribed = msg.subscribed;
      else this.events.push({ seq: msg.seq!, event: msg.event! });
    });
    ws.on('close', (code, reason) => (this.closed = { code, reason: reason.toString() }));
    ws.on('error', () => undefined);
  }

  /** Opens, subscribes and waits for the gateway's `subscribed`. */
  async subscribe(patterns: string[], from?: number): Promise<this> {
    await within(this.opened, { what: 'the WebSocket to open' });
    this.ws.send(JSON.stringify({ subscribe: patterns, ...(from !== undefined && { from }) }));
    return this;
  }

  get seqs(): number[] {
    return this.events.map((e) => e.seq);
  }

  close(): void {
    this.ws.terminate();
  }
}

/** @returns the HTTP status an upgrade to `url` is refused with (the socket never opens) */
export function refusedUpgrade(url: string): Promise<number> {
  const ws = new WebSocket(url.replace(/^http/, 'ws'));
  ws.on('error', () => undefined);
  return within(
    new Promise<number>((resolve, reject) => {
      ws.once('unexpected-response', (_req, res) => {
        resolve(res.statusCode ?? 0);
        res.resume();
      });
      ws.once('open', () => reject(new Error('the upgrade was accepted')));
    }),
    { what: 'the upgrade to be refused' },
  );
}

/** An SSE client on node:http that parses the stream as EventSource would. */
export class SseTestClient {
  readonly events: Received[] = [];
  readonly ids: string[] = [];
  readonly named: { event: string; data: unknown }[] = [];
  status: number | undefined;
  body = '';
  ended = false;
  private buffer = '';
  res: IncomingMessage | undefined;
  private readonly req;

  constructor(url: string, headers: Record<string, string> = {}) {
    this.req = request(url, { headers }, (res) => {
      this.res = res;
      this.status = res.statusCode;
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => this.feed(chunk));
      res.on('end', () => (this.ended = true));
      res.on('error', () => (this.ended = true));
    });
    this.req.on('error', () => (this.ended = true));
    this.req.end();
  }

  /** Called with every chunk as it arrives (comments included). */
  onRaw: ((chunk: string) => void) | undefined;

  private feed(chunk: string): void {
    this.onRaw?.(chunk);
    this.body += this.status === 200 ? '' : chunk;
    this.buffer += chunk;
    let cut: number;
    while ((cut = this.buffer.indexOf('\n\n')) >= 0) {
      const block = this.buffer.slice(0, cut);
      this.buffer = this.buffer.slice(cut + 2);
      const fields = new Map<string, string>();
      for (const line of block.split('\n')) {
        if (line.startsWith(':') || !line.includes(':')) continue;
        const at = line.indexOf(':');
        fields.set(line.slice(0, at), line.slice(at + 1).trimStart());
      }
      const data = fields.get('data');
      if (data === undefined) continue;
      const name = fields.get('event');
      if (name !== undefined) this.named.push({ event: name, data: JSON.parse(data) });
      else {
        this.ids.push(fields.get('id') ?? '');
        this.events.push(JSON.parse(data) as Received);
      }
    }
  }

  get seqs(): number[] {
    return this.events.map((e) => e.seq);
  }

  close(): void {
    this.req.destroy();
  }
}
