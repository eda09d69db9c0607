import type { IncomingRequest } from '../transport/requests.js';
import { REQUEST_ID_HEADER } from '../transport/requests.js';
import { TRACEPARENT_HEADER } from '../transport/transport.js';

/** What a handler learns about a request besides its payload. */
export interface RequestMeta {
  /** The request's id (the caller's correlation id); empty when the caller sent none. */
  readonly id: string;
  /** The endpoint's name. */
  readonly endpoint: string;
  /** The caller's W3C trace context, when it sent one. */
  readonly traceparent: string | undefined;
  /** How long the handler had when it started (ms): its own timeout or the caller's deadline, the sooner. */
  readonly timeoutMs: number;
  /** One header the caller sent. */
  header(name: string): string | undefined;
  /** Aborted when the handler's time is up (its timeout, or the caller's deadline). */
  readonly signal: AbortSignal;
}

/** {@link RequestMeta} over an incoming request; its AbortController is made only when asked for. */
export class IncomingMeta implements RequestMeta {
  private controller: AbortController | undefined;
  private abortedWith: { reason: unknown } | undefined;

  constructor(
    private readonly req: IncomingRequest,
    readonly timeoutMs: number,
  ) {}

  get id(): string {
    return this.req.header(REQUEST_ID_HEADER) ?? '';
  }
  get endpoint(): string {
    return this.req.endpoint;
  }
  get traceparent(): string | undefined {
    return this.req.header(TRACEPARENT_HEADER);
  }
  header(name: string): string | undefined {
    return this.req.header(name);
  }
  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.abortedWith) this.controller.abort(this.abortedWith.reason);
    }
    return this.controller.signal;
  }

  /** Aborts the signal (at once if someone asked for it, else the moment someone does). */
  abort(reason: unknown): void {
    this.abortedWith ??= { reason };
    this.controller?.abort(reason);
  }

  toJSON(): Omit<RequestMeta, 'signal' | 'header'> {
    const { id, endpoint, traceparent, timeoutMs } = this;
    return { id, endpoint, traceparent, timeoutMs };
  }
}
