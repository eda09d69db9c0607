import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Logger } from '../logging.js';
import { SseConnection, WsConnection } from './connection.js';
import type { Client, GatewayHub } from './hub.js';
import type { ResolvedGatewayOptions } from './options.js';
import { isRefusal, parseSseQuery, parseSubscribeMessage } from './subscribe-request.js';

/** Largest message a browser may send (a subscription). */
const MAX_INBOUND_BYTES = 16 * 1024;

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/** Answers an upgrade request with a plain HTTP status and closes the socket: no WebSocket. */
function rejectUpgrade(socket: Duplex, status: number, error: string): void {
  const body = JSON.stringify({ error });
  const auth = status === 401 ? 'WWW-Authenticate: Bearer\r\n' : '';
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? ''}\r\nContent-Type: application/json; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n${auth}Connection: close\r\n\r\n${body}`,
  );
}

function respond(res: ServerResponse, status: number, error: string): void {
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
    ...(status === 401 && { 'www-authenticate': 'Bearer' }),
    ...(status === 503 && { 'retry-after': '5' }),
  });
  res.end(JSON.stringify({ error }));
}

/** What both endpoints need. */
export interface EndpointContext {
  readonly hub: GatewayHub;
  readonly options: ResolvedGatewayOptions;
  readonly logger: Logger;
}

/**
 * Runs `authorize` and checks the client bound.
 * @returns the claims, or the status and reason to refuse with
 */
async function admit(
  ctx: EndpointContext,
  req: IncomingMessage,
): Promise<{ claims: unknown } | { status: number; error: string }> {
  if (!ctx.hub.hasRoom) {
    ctx.hub.refused.full++;
    return { status: 503, error: 'too many gateway clients' };
  }
  let claims: unknown;
  try {
    claims = await ctx.options.authorize(req);
  } catch (err) {
    ctx.logger.warn({ err }, 'gateway authorize threw; the client is refused');
    return { status: 500, error: 'authorization failed' };
  }
  if (claims === null || claims === undefined) {
    ctx.hub.refused.unauthorized++;
    return { status: 401, error: 'unauthorized' };
  }
  return { claims };
}

/** The WebSocket endpoint: upgrades authorized requests and reads each client's subscription. */
export class WsEndpoint {
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: MAX_INBOUND_BYTES });

  constructor(private readonly ctx: EndpointContext) {}

  /** Handles an `upgrade` of the gateway's path; answers 401/503 without a socket when refused. */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    admit(this.ctx, req).then(
      (a) => {
        if ('status' in a) return rejectUpgrade(socket, a.status, a.error);
        if (socket.destroyed) return;
        if (this.ctx.hub.isClosed) return rejectUpgrade(socket, 503, 'the gateway is closing');
        this.wss.handleUpgrade(req, socket, head, (ws) => this.connected(ws, a.claims));
      },
      (err: unknown) => {
        this.ctx.logger.warn({ err }, 'gateway upgrade failed');
        rejectUpgrade(socket, 500, 'upgrade failed');
      },
    );
  }

  private connected(ws: WebSocket, claims: unknown): void {
    const client = this.ctx.hub.add(new WsConnection(ws), claims);
    ws.on('close', () => this.ctx.hub.remove(client));
    ws.on('error', (err) => this.ctx.logger.debug({ err }, 'gateway WebSocket error'));
    ws.on('message', (data, isBinary) => {
      const text = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
      this.message(client, isBinary ? '' : text.toString('utf8'));
    });
  }

  private message(client: Client, text: string): void {
    if (client.state !== 'new') return client.conn.control('error', 'already subscribed');
    const { events, maxPatterns } = this.ctx.options;
    const r = parseSubscribeMessage(events, maxPatterns, text);
    if (isRefusal(r)) {
      this.ctx.hub.refused.invalid++;
      return client.conn.control('error', r.error);
    }
    void this.ctx.hub.subscribe(client, r.patterns, r.from);
  }

  /** Closes the WebSocket server (clients are disconnected by the hub). */
  close(): void {
    this.wss.close();
  }
}

/** The SSE endpoint: `GET <path>/sse?subscribe=order.*&from=42` (or `Last-Event-ID`). */
export async function serveSse(
  ctx: EndpointContext,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  if (req.method !== 'GET') return respond(res, 405, 'method not allowed');
  const a = await admit(ctx, req);
  if ('status' in a) return respond(res, a.status, a.error);
  const url = new URL(req.url ?? '/', 'http://localhost');
  const lastId = req.headers['last-event-id'];
  const { events, maxPatterns } = ctx.options;
  const r = parseSseQuery(events, maxPatterns, url, typeof lastId === 'string' ? lastId : undefined);
  if (isRefusal(r)) {
    ctx.hub.refused.invalid++;
    return respond(res, 400, r.error);
  }
  if (req.destroyed) return;
  if (ctx.hub.isClosed) return respond(res, 503, 'the gateway is closing');
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-store',
    // The stream ends only to disconnect: its socket goes with it rather than idling until shutdown.
    connection: 'close',
    'x-accel-buffering': 'no',
  });
  res.write('retry: 1000\n\n');
  const client = ctx.hub.add(new SseConnection(res), a.claims);
  res.on('close', () => ctx.hub.remove(client));
  await ctx.hub.subscribe(client, r.patterns, r.from);
}
