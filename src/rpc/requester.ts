import type { Breaker } from '../breaker/breaker.js';
import type { BreakerOptions } from '../breaker/options.js';
import { uuidv7 } from '../events/ids.js';
import {
  formatIssues,
  isNoRespondersError,
  isRemoteError,
  TimeoutError,
  TransportError,
  ValidationError,
} from '../errors.js';
import { retry } from '../retry/retry.js';
import type { Clock } from '../time/clock.js';
import { activeTrace, childSpan, formatTraceparent } from '../tracing/context.js';
import { REQUEST_ID_HEADER, type RequestTransport } from '../transport/requests.js';
import { TRACEPARENT_HEADER } from '../transport/transport.js';
import { unknownEndpoint, type AnyEndpointApi, type EndpointSchema } from './endpoints.js';
import { EndpointErrorCode } from './dispatch.js';
import { requestTimeout, type RequestOptions } from './options.js';

/** What a requester needs of its runtime. */
export interface RequesterParts {
  readonly clock: Clock;
  /** The transport's request/reply. @throws when the transport has none */
  readonly requests: () => RequestTransport;
  /** The runtime's breaker registry: `rpc:<name>` is made on first use. */
  readonly breaker: (name: string, options: BreakerOptions) => Breaker;
}

/** A 4xx answer is the caller's fault: the endpoint is well, so the breaker does not count it. */
export const isRemoteFailure = (err: unknown): boolean =>
  !(isRemoteError(err) && err.code >= 400 && err.code < 500) && !(err instanceof ValidationError);

/** Retried by default under a retry policy: nothing reached a handler, or it was busy. */
const isRetryableByDefault = (err: unknown): boolean =>
  isNoRespondersError(err) || (isRemoteError(err) && err.code === EndpointErrorCode.busy);

const decoder = new TextDecoder();

/**
 * The calling side of request/reply: validates the request, sends it with its deadline, trace
 * context and id through the remote endpoint's breaker (and retries, when asked), and validates
 * the response.
 * @example
 * const requester = new Requester({ clock, requests: () => transport.requests!(), breaker: (n, o) => registry.get(n, o) });
 * const order = await requester.request(api, 'orders.get', { id: '1' }, { timeoutMs: 2_000 });
 */
export class Requester {
  constructor(private readonly parts: RequesterParts) {}

  /**
   * @throws {ValidationError} for an unknown endpoint, an invalid request (nothing is sent) or an invalid response
   * @throws {RemoteError} when the endpoint answered with an error
   * @throws {NoRespondersError} when nobody serves the endpoint
   * @throws {TimeoutError} when no answer came within `timeoutMs`
   * @throws {CircuitOpenError} when the endpoint's breaker is open
   */
  async request(
    api: AnyEndpointApi,
    name: string,
    payload: unknown,
    options?: RequestOptions,
  ): Promise<unknown> {
    const schema = api.schema(name);
    if (!schema) throw unknownEndpoint(name);
    const parsed = schema.request.safeParse(payload);
    if (!parsed.success) throw ValidationError.fromIssues(`invalid "${name}" request`, parsed.error.issues);
    const timeoutMs = requestTimeout(options);
    const deadline = this.parts.clock.now() + timeoutMs;
    const send = this.sender(name, JSON.stringify(parsed.data), headersOf(options), deadline, timeoutMs);
    const guarded = this.guard(name, options, send);
    const policy = options?.retry;
    const reply = await (policy
      ? retry(guarded, { ...policy, isRetryable: policy.isRetryable ?? isRetryableByDefault })
      : guarded());
    return decodeReply(name, schema, reply);
  }

  private sender(
    name: string,
    body: string,
    headers: Record<string, string>,
    deadline: number,
    timeoutMs: number,
  ): () => Promise<Uint8Array | string> {
    const requests = this.parts.requests();
    return () => {
      const left = deadline - this.parts.clock.now();
      if (left <= 0) return Promise.reject(new TimeoutError(timeoutMs));
      return requests.request({ endpoint: name, body, timeoutMs: left, headers });
    };
  }

  private guard(
    name: string,
    options: RequestOptions | undefined,
    send: () => Promise<Uint8Array | string>,
  ): () => Promise<Uint8Array | string> {
    const b = options?.breaker ?? true;
    if (b === false) return send;
    const breaker = this.parts.breaker(`rpc:${name}`, {
      ...(typeof b === 'object' && b),
      isFailure: typeof b === 'object' && b.isFailure ? b.isFailure : isRemoteFailure,
    });
    return () => breaker.execute(send);
  }
}

function headersOf(options: RequestOptions | undefined): Record<string, string> {
  const traceparent = options?.traceparent ?? currentTraceparent();
  return {
    ...options?.headers,
    [REQUEST_ID_HEADER]: options?.id ?? uuidv7(),
    ...(traceparent !== undefined && { [TRACEPARENT_HEADER]: traceparent }),
  };
}

function currentTraceparent(): string | undefined {
  const active = activeTrace();
  return active ? formatTraceparent(childSpan(active)) : undefined;
}

function decodeReply(name: string, schema: EndpointSchema, reply: Uint8Array | string): unknown {
  let json: unknown;
  try {
    json = JSON.parse(typeof reply === 'string' ? reply : decoder.decode(reply));
  } catch (err) {
    throw new ValidationError(`the "${name}" response is not JSON`, [], { cause: err });
  }
  const parsed = schema.response.safeParse(json);
  if (!parsed.success)
    throw new ValidationError(
      `invalid "${name}" response: ${formatIssues(parsed.error.issues)}`,
      parsed.error.issues,
    );
  return parsed.data;
}

/** @returns the transport's request/reply, or throws when it has none */
export function requestsOf(transport: { kind: string; requests?: () => RequestTransport }): RequestTransport {
  const requests = transport.requests?.();
  if (!requests) throw new TransportError(`the ${transport.kind} transport has no request/reply`);
  return requests;
}
