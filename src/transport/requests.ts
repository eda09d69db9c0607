/**
 * The request/reply capability of a transport: endpoints served on a queue group (the instances of
 * a service share the load), requests answered by exactly one of them, with a deadline. On NATS it
 * is the micro protocol (`$SRV` INFO and STATS list and count every endpoint); the memory transport
 * gives the same semantics inside one process. Bodies are opaque here: the runtime encodes JSON and
 * validates it against the endpoint's schemas.
 *
 * What every implementation owes:
 * - `request` resolves with the one reply of one serving instance, or rejects with
 *   `NoRespondersError` at once when nobody serves the endpoint, `TimeoutError` when no reply came
 *   within `timeoutMs`, and `RemoteError { code }` when the endpoint answered with an error.
 * - The caller's `timeoutMs` reaches the serving side as {@link IncomingRequest.timeoutMs}.
 * - `headers` reach the serving side as they were sent (`traceparent`, the request id).
 * - Endpoints of one name share requests: each request goes to one of them.
 */

/** Counters of one served endpoint, as the micro protocol's STATS reports them. */
export interface EndpointCounters {
  /** Requests received. */
  readonly requests: number;
  /** Requests answered with an error. */
  readonly errors: number;
  /** Total time spent handling requests, in nanoseconds. */
  readonly processingNs: number;
  /** The last error's description; empty when there was none. */
  readonly lastError: string;
}

/** What a runtime serves: one endpoint of one service instance. */
export interface EndpointSpec {
  /** The endpoint's name, dotted subject tokens (`orders.get`); the subject is derived from it. */
  readonly name: string;
  /** The service and instance it belongs to (discovery lists it under them). */
  readonly service: string;
  readonly instanceId: string;
  /** Shown in discovery (on NATS: the endpoint's metadata in `$SRV.INFO`). */
  readonly metadata: Readonly<Record<string, string>>;
  /** Its counters now, read by discovery (on NATS: `$SRV.STATS`). */
  readonly counters: () => EndpointCounters;
}

/** One request, handed to the serving side. */
export interface IncomingRequest {
  readonly endpoint: string;
  readonly body: Uint8Array | string;
  /** One header the caller sent, or undefined. */
  header(name: string): string | undefined;
  /** The time the caller had left when it sent the request (ms); undefined when it sent no deadline. */
  readonly timeoutMs: number | undefined;
  /** Answers with a body. Only the first answer of a request counts. */
  respond(body: Uint8Array | string): void;
  /** Answers with an error code and description (on NATS: the micro error headers). */
  fail(code: number, message: string): void;
}

/** Receives requests and the failure of the serving side; called by the transport. */
export interface RequestSink {
  request(req: IncomingRequest): void;
  /** Serving stopped without `stop()` (the subscription was closed under it). */
  failed(error: Error): void;
}

/** A served endpoint. */
export interface EndpointHandle {
  /** Resolves once requests can reach it; rejects when it cannot be served. */
  readonly ready: Promise<void>;
  /** Stops taking requests; the ones handed out can still be answered. Idempotent. */
  stop(): Promise<void>;
}

/** A request on its way to an endpoint. */
export interface OutgoingRequest {
  readonly endpoint: string;
  readonly body: Uint8Array | string;
  /** How long to wait for the reply; sent along as the deadline. */
  readonly timeoutMs: number;
  readonly headers?: Readonly<Record<string, string>> | undefined;
}

/** One endpoint as discovery lists it. */
export interface EndpointListing {
  /** The service and instance that serve it. */
  readonly service: string;
  readonly instanceId: string;
  readonly name: string;
  /** Where it listens, where the transport has subjects. */
  readonly subject?: string;
  readonly metadata: Readonly<Record<string, string>>;
  /** Its counters, when the listing asked for them. */
  readonly counters?: EndpointCounters;
}

/**
 * Request/reply over a transport: serve endpoints, send requests, list what is served.
 * @example
 * const requests = transport.requests?.();
 * const handle = requests.serve(spec, { request: (r) => r.respond('{"ok":true}'), failed: console.error });
 * const reply = await requests.request({ endpoint: 'orders.get', body: '{"id":"1"}', timeoutMs: 2_000 });
 */
export interface RequestTransport {
  /** Serves `spec.name` on the shared queue group until `stop()`. */
  serve(spec: EndpointSpec, sink: RequestSink): EndpointHandle;
  /**
   * Sends one request and waits for its reply.
   * @throws {NoRespondersError} when no instance serves the endpoint
   * @throws {TimeoutError} when no reply came within `timeoutMs`
   * @throws {RemoteError} when the endpoint answered with an error
   */
  request(req: OutgoingRequest): Promise<Uint8Array | string>;
  /**
   * Lists the endpoints served by the instances of `service` (every service's without it) that
   * answer within `timeoutMs`, with their counters.
   */
  endpoints(service: string | undefined, timeoutMs: number): Promise<EndpointListing[]>;
}

/** Header carrying a request's id: the caller's correlation id, given to the handler as `meta.id`. */
export const REQUEST_ID_HEADER = 'bulwark-request-id';
