import type { ServerResponse } from 'node:http';
import type { WebSocket } from 'ws';
import { controlJson, sseMessage, type GatewayEvent } from './frames.js';

import { DisconnectReason } from './types.js';

export { DisconnectReason };

/** One client's socket as the hub sees it: WebSocket and SSE alike. */
export interface Connection {
  readonly kind: 'ws' | 'sse';
  /** Bytes written but not yet handed to the kernel. */
  buffered(): number;
  /** Sends an event; `flushed` is called once it has left the process's buffers. */
  send(e: GatewayEvent, flushed?: () => void): void;
  /** A control message, `{ [type]: value }`: `subscribed` (the patterns), `error` (why). */
  control(type: 'subscribed' | 'error', value: unknown): void;
  /** @returns false when the peer missed the last heartbeat (the hub then disconnects it) */
  heartbeat(): boolean;
  /** Ends the connection, telling the peer why where it still can. */
  disconnect(reason: DisconnectReason, text: string): void;
}

/** WebSocket close codes: 1013 "try again later" for a slow client, 1001 "going away" otherwise. */
const CLOSE_CODE: Record<DisconnectReason, number> = { slow: 1013, heartbeat: 1001, closing: 1001 };

/**
 * How long a disconnected client may keep its socket while it reads nothing more: a slow one long
 * enough to read the reason once it catches up, a shutdown briefly.
 */
const LINGER_MS: Record<DisconnectReason, number> = { slow: 30_000, heartbeat: 0, closing: 1_000 };

/** A client on a `ws` WebSocket. */
export class WsConnection implements Connection {
  readonly kind = 'ws';
  private alive = true;

  constructor(private readonly ws: WebSocket) {
    ws.on('pong', () => (this.alive = true));
  }

  buffered(): number {
    return this.ws.bufferedAmount;
  }

  send(e: GatewayEvent, flushed?: () => void): void {
    this.ws.send(e.bytes, { binary: false }, flushed && (() => flushed()));
  }

  control(type: 'subscribed' | 'error', value: unknown): void {
    this.ws.send(controlJson({ [type]: value }));
  }

  heartbeat(): boolean {
    if (!this.alive) return false;
    this.alive = false;
    this.ws.ping();
    return true;
  }

  disconnect(reason: DisconnectReason, text: string): void {
    if (reason === 'heartbeat') return this.ws.terminate();
    // The close frame waits behind what is queued; a peer that reads nothing loses the socket
    // after the linger (`ws` alone would wait 30 s for its answer).
    this.ws.close(CLOSE_CODE[reason], text.slice(0, 120));
    const linger = setTimeout(() => this.ws.terminate(), LINGER_MS[reason]);
    this.ws.once('close', () => clearTimeout(linger));
  }
}

/** A client on a server-sent events stream. */
export class SseConnection implements Connection {
  readonly kind = 'sse';
  private linger: NodeJS.Timeout | undefined;

  constructor(private readonly res: ServerResponse) {
    res.on('close', () => clearTimeout(this.linger));
  }

  buffered(): number {
    return this.res.writableLength;
  }

  send(e: GatewayEvent, flushed?: () => void): void {
    this.res.write(e.sse, flushed && (() => flushed()));
  }

  control(type: 'subscribed' | 'error', value: unknown): void {
    this.res.write(sseMessage(type, { [type]: value }));
  }

  heartbeat(): boolean {
    this.res.write(': ping\n\n');
    return true;
  }

  disconnect(reason: DisconnectReason, text: string): void {
    if (this.res.writableEnded) return;
    this.res.end(sseMessage('error', { reason, message: text }));
    this.linger = setTimeout(() => this.res.destroy(), LINGER_MS[reason]);
  }
}
