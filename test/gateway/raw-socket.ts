import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import type { Socket } from 'node:net';
import { within } from '../support/wait.js';

/**
 * A WebSocket client written on node:http's upgrade and a bare socket, so that a test can stop
 * reading (`socket.pause()`) as a stalled browser tab does, then read what was sent.
 */
export class RawWsClient {
  private chunks: Buffer[] = [];
  ended = false;

  private constructor(readonly socket: Socket) {
    socket.on('data', (b: Buffer) => this.chunks.push(b));
    socket.on('end', () => (this.ended = true));
    socket.on('close', () => (this.ended = true));
    socket.on('error', () => (this.ended = true));
  }

  /** Opens a WebSocket to `url` (http://…). */
  static async open(url: string): Promise<RawWsClient> {
    const req = request(url, {
      headers: {
        connection: 'Upgrade',
        upgrade: 'websocket',
        'sec-websocket-version': '13',
        'sec-websocket-key': randomBytes(16).toString('base64'),
      },
    });
    const upgraded = new Promise<RawWsClient>((resolve, reject) => {
      req.once('upgrade', (_res, socket, head) => {
        const client = new RawWsClient(socket);
        if (head.length > 0) client.chunks.push(head);
        resolve(client);
      });
      req.once('response', (res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
      req.once('error', reject);
    });
    req.end();
    return within(upgraded, { what: 'the upgrade' });
  }

  /** Sends a masked text frame, as a browser does. */
  sendText(text: string): void {
    const payload = Buffer.from(text);
    if (payload.length > 125) throw new Error('only short frames');
    const mask = randomBytes(4);
    const masked = Buffer.from(payload.map((b, i) => b ^ mask[i % 4]!));
    this.socket.write(Buffer.concat([Buffer.from([0x81, 0x80 | payload.length]), mask, masked]));
  }

  /** The frames received so far: opcode and payload. */
  frames(): { opcode: number; payload: Buffer }[] {
    const all = Buffer.concat(this.chunks);
    const frames: { opcode: number; payload: Buffer }[] = [];
    let at = 0;
    while (at + 2 <= all.length) {
      const opcode = all[at]! & 0x0f;
      let len = all[at + 1]! & 0x7f;
      let head = 2;
      if (len === 126) {
        if (at + 4 > all.length) break;
        len = all.readUInt16BE(at + 2);
        head = 4;
      } else if (len === 127) {
        if (at + 10 > all.length) break;
        len = Number(all.readBigUInt64BE(at + 2));
        head = 10;
      }
      if (at + head + len > all.length) break;
      frames.push({ opcode, payload: all.subarray(at + head, at + head + len) });
      at += head + len;
    }
    return frames;
  }

  /** The close frame's code and reason, once received. */
  closeFrame(): { code: number; reason: string } | undefined {
    const f = this.frames().find((x) => x.opcode === 0x8);
    return f && { code: f.payload.readUInt16BE(0), reason: f.payload.subarray(2).toString('utf8') };
  }

  /** Text frames as parsed JSON. */
  messages(): unknown[] {
    return this.frames()
      .filter((f) => f.opcode === 0x1)
      .map((f) => JSON.parse(f.payload.toString('utf8')) as unknown);
  }

  close(): void {
    this.socket.destroy();
  }
}
