import type { Supervisor } from '../actors/supervisor/supervisor.js';
import type { Breaker } from '../breaker/breaker.js';
import type { BreakerOptions } from '../breaker/options.js';
import type { Env } from '../env.js';
import { ValidationError } from '../errors.js';
import type { Transport } from '../transport/transport.js';
import type { AnyEndpointHandler } from './dispatch.js';
import { EndpointHost, type Endpoint } from './endpoint.actor.js';
import { unknownEndpoint, type AnyEndpointApi } from './endpoints.js';
import { resolveHandleOptions, type HandleOptions, type RequestOptions } from './options.js';
import { Requester, requestsOf } from './requester.js';

/** What a runtime's request/reply is made of. */
export interface RpcParts extends Env {
  readonly service: string;
  readonly instanceId: string;
  readonly transport: Transport;
  readonly supervisor: Supervisor;
  /** The runtime's breaker registry. */
  readonly breaker: (name: string, options: BreakerOptions) => Breaker;
}

/**
 * A runtime's request/reply: the endpoints it serves (each a supervised endpoint actor, listed in
 * discovery under this instance) and the requests it sends. `rt.handle` and `rt.request` delegate here.
 * @example
 * const rpc = new RuntimeRpc({ service, instanceId, transport, supervisor, clock, logger, breaker });
 * rpc.handle(api, 'orders.get', async (req) => ({ id: req.id, status: 'paid' }));
 */
export class RuntimeRpc {
  private readonly served = new Map<string, EndpointHost>();
  private readonly requester: Requester;

  constructor(private readonly parts: RpcParts) {
    this.requester = new Requester({
      clock: parts.clock,
      requests: () => requestsOf(parts.transport),
      breaker: parts.breaker,
    });
  }

  /**
   * Serves `name` of `api` with `handler`.
   * @throws {ValidationError} for an unknown endpoint, one this runtime serves already, or bad options
   * @throws {TransportError} when the transport has no request/reply
   */
  handle(
    api: AnyEndpointApi,
    name: string,
    handler: AnyEndpointHandler,
    options: HandleOptions = {},
  ): Endpoint {
    const schema = api.schema(name);
    if (!schema) throw unknownEndpoint(name);
    if (this.served.has(name)) throw new ValidationError(`endpoint "${name}" is served already`);
    const resolved = resolveHandleOptions(options);
    const { service, instanceId, supervisor, clock, logger, inspect } = this.parts;
    const requests = requestsOf(this.parts.transport);
    const host = new EndpointHost({
      id: supervisor.freeId(`endpoint:${name}`),
      spec: { name, service, instanceId, metadata: api.metadata(name) },
      dispatch: {
        name,
        request: schema.request,
        response: schema.response,
        handler,
        options: resolved,
        clock,
        logger: logger.child({ actor: 'endpoint', endpoint: name }),
      },
      requests,
      clock,
      logger,
      inspect,
    });
    host.supervise(supervisor, resolved.restart);
    this.served.set(name, host);
    void host.halted.then(() => this.served.get(name) === host && this.served.delete(name));
    return host;
  }

  /** Sends a request; see `Runtime.request`. */
  request(api: AnyEndpointApi, name: string, payload: unknown, options?: RequestOptions): Promise<unknown> {
    return this.requester.request(api, name, payload, options);
  }

  /** Every endpoint this runtime serves. */
  list(): Endpoint[] {
    return [...this.served.values()];
  }

  /** Shutdown steps: each endpoint stops taking requests and finishes its in-flight ones (`intake`). */
  stopSteps(): { phase: 'intake'; name: string; run: () => Promise<void> }[] {
    return this.list().map((e) => ({
      phase: 'intake' as const,
      name: `endpoint ${e.name} (${e.stats().inFlight} in flight)`,
      run: () => e.stop(),
    }));
  }
}
