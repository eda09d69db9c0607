import type { CloudEvent } from '../events/cloudevent.js';

/**
 * One event as the gateway sends it: `{ seq, event }`. The JSON is built once per event, whatever
 * the number of clients; a WebSocket sends `json`, an SSE stream `sse` (`id:` is the seq).
 */
export class GatewayEvent {
  private jsonText: string | undefined;
  private sseText: string | undefined;
  private utf8: Buffer | undefined;

  constructor(
    readonly seq: number,
    readonly event: CloudEvent,
  ) {}

  get type(): string {
    return this.event.type;
  }

  /** `{"seq":…,"event":…}` */
  get json(): string {
    return (this.jsonText ??= `{"seq":${this.seq},"event":${JSON.stringify(this.event)}}`);
  }

  /** {@link json} as UTF-8, encoded once for every WebSocket. */
  get bytes(): Buffer {
    return (this.utf8 ??= Buffer.from(this.json));
  }

  /** The SSE message: `id: <seq>` and the JSON as `data:` (JSON has no raw newlines). */
  get sse(): string {
    return (this.sseText ??= `id: ${this.seq}\ndata: ${this.json}\n\n`);
  }
}

/** A control message to a WebSocket client: `{ "subscribed": [...] }` or `{ "error": "..." }`. */
export function controlJson(message: Readonly<Record<string, unknown>>): string {
  return JSON.stringify(message);
}

/** An SSE message of a named event type (`event: error`, `event: subscribed`). */
export function sseMessage(event: string, data: Readonly<Record<string, unknown>>): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}
