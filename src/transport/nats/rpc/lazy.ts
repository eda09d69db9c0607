import type { NatsConnection } from '@nats-io/transport-node';
import type { EndpointHandle, RequestTransport } from '../../requests.js';
import type * as NatsRequestsModule from './requests.js';

type Module = typeof NatsRequestsModule;

/**
 * The NATS transport's request/reply, its code loaded on first use (importing bulwark loads no
 * NATS client). Each call goes to the connection the transport has at that moment.
 * @param connection - the live connection; throws while there is none
 * @example
 * const requests = lazyNatsRequests(() => link.nc, 'shop');
 */
export function lazyNatsRequests(connection: () => NatsConnection, prefix: string): RequestTransport {
  let loaded: Module | undefined;
  let loading: Promise<Module> | undefined;
  const load = (): Promise<Module> => (loading ??= import('./requests.js').then((m) => (loaded = m)));
  let current: { nc: NatsConnection; requests: RequestTransport } | undefined;
  const on = (m: Module): RequestTransport => {
    const nc = connection();
    if (current?.nc !== nc) current = { nc, requests: m.natsRequests(nc, prefix) };
    return current.requests;
  };
  return {
    serve(spec, sink) {
      if (loaded) return on(loaded).serve(spec, sink);
      let handle: EndpointHandle | undefined;
      let stopped = false;
      const ready = load().then((m) => {
        if (stopped) return;
        handle = on(m).serve(spec, sink);
        return handle.ready;
      });
      return {
        ready,
        stop: async () => {
          stopped = true;
          await ready.catch(() => undefined);
          await handle?.stop();
        },
      };
    },
    request: (req) => (loaded ? on(loaded).request(req) : load().then((m) => on(m).request(req))),
    endpoints: async (service, timeoutMs) => on(await load()).endpoints(service, timeoutMs),
  };
}
