import { NoRespondersError, type Msg, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import type { DiscoveredInstance, ServiceAdvert, ServicePresence } from '../presence.js';
import { safeToken } from './toolkit/names.js';
import { endpointsOf, type MicroEndpoint } from './rpc/directory.js';

// The NATS micro protocol (ADR-32): every service instance answers PING, INFO and STATS on
// `$SRV.<verb>`, `$SRV.<verb>.<name>` and `$SRV.<verb>.<name>.<id>`; `nats micro ls` lists them.
const VERBS = ['PING', 'INFO', 'STATS'] as const;
type Verb = (typeof VERBS)[number];
const TYPES: Record<Verb, string> = {
  PING: 'io.nats.micro.v1.ping_response',
  INFO: 'io.nats.micro.v1.info_response',
  STATS: 'io.nats.micro.v1.stats_response',
};

interface Instance {
  readonly advert: ServiceAdvert;
  readonly name: string;
  readonly started: string;
  readonly healthSubject: string;
  requests: number;
  errors: number;
  lastError: string;
  processingNs: number;
  /** The request/reply endpoints this instance serves on the connection, listed after `health`. */
  readonly served: () => MicroEndpoint[];
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function identity(i: Instance) {
  return { name: i.name, id: i.advert.id, version: i.advert.version, metadata: i.advert.metadata ?? {} };
}

function endpoint(i: Instance) {
  return { name: 'health', subject: i.healthSubject, queue_group: 'q', metadata: null };
}

function servedInfo(e: MicroEndpoint) {
  return { name: e.name, subject: e.subject, queue_group: e.queueGroup, metadata: e.metadata };
}

function servedStats(e: MicroEndpoint) {
  const c = e.counters();
  return {
    ...servedInfo(e),
    num_requests: c.requests,
    num_errors: c.errors,
    last_error: c.lastError,
    processing_time: c.processingNs,
    average_processing_time: c.requests ? Math.round(c.processingNs / c.requests) : 0,
  };
}

async function describe(i: Instance, verb: Verb): Promise<unknown> {
  const base = { type: TYPES[verb], ...identity(i) };
  if (verb === 'PING') return base;
  if (verb === 'INFO') {
    const endpoints = [endpoint(i), ...i.served().map(servedInfo)];
    return { ...base, description: i.advert.description ?? '', endpoints };
  }
  const health = await i.advert.health().catch((err: unknown) => ({ status: 'UNKNOWN', error: String(err) }));
  return {
    ...base,
    started: i.started,
    endpoints: [
      {
        ...endpoint(i),
        num_requests: i.requests,
        num_errors: i.errors,
        last_error: i.lastError,
        processing_time: i.processingNs,
        average_processing_time: i.requests ? Math.round(i.processingNs / i.requests) : 0,
        data: health,
      },
      ...i.served().map(servedStats),
    ],
  };
}

async function answerHealth(i: Instance, msg: Msg): Promise<void> {
  const t = process.hrtime.bigint();
  i.requests++;
  try {
    msg.respond(encoder.encode(JSON.stringify(await i.advert.health())));
  } catch (err) {
    i.errors++;
    i.lastError = String(err);
    msg.respond(encoder.encode(JSON.stringify({ error: String(err) })));
  }
  i.processingNs += Number(process.hrtime.bigint() - t);
}

function subscribeAll(nc: NatsConnection, i: Instance): Subscription[] {
  const subs: Subscription[] = [];
  for (const verb of VERBS)
    for (const subject of [`$SRV.${verb}`, `$SRV.${verb}.${i.name}`, `$SRV.${verb}.${i.name}.${i.advert.id}`])
      subs.push(
        nc.subscribe(subject, {
          callback: (err, msg) => {
            if (!err)
              void describe(i, verb).then((body) => msg.respond(encoder.encode(JSON.stringify(body))));
          },
        }),
      );
  subs.push(
    nc.subscribe(i.healthSubject, { queue: 'q', callback: (err, msg) => void (err || answerHealth(i, msg)) }),
  );
  return subs;
}

/**
 * Presence on NATS: health notices on `<prefix>.health.<service>`, and discovery through the
 * `$SRV` micro protocol, with the instance's health report as its `health` endpoint's STATS data.
 * @example
 * const presence = natsPresence(nc, 'bulwark');
 * const ad = await presence.advertise({ name: 'accounts', id, version: '1.0.0', health: () => rt.health.report() });
 */
export function natsPresence(nc: NatsConnection, prefix: string): ServicePresence {
  return {
    async publishStatus(service, body) {
      nc.publish(`${prefix}.health.${safeToken(service)}`, body);
      await nc.flush();
    },
    async advertise(advert) {
      const name = safeToken(advert.name);
      const healthSubject = `${prefix}.svc.${name}.${safeToken(advert.id)}.health`;
      const instance: Instance = {
        advert,
        name,
        started: new Date().toISOString(),
        healthSubject,
        requests: 0,
        errors: 0,
        lastError: '',
        processingNs: 0,
        served: () => endpointsOf(nc, advert.name, advert.id),
      };
      const subs = subscribeAll(nc, instance);
      await nc.flush();
      return {
        stop: async () => {
          for (const s of subs) s.unsubscribe();
          if (!nc.isClosed()) await nc.flush();
        },
      };
    },
    async discover(service, timeoutMs) {
      const found: DiscoveredInstance[] = [];
      try {
        const subject = `$SRV.STATS.${safeToken(service)}`;
        const replies = await nc.requestMany(subject, undefined, { strategy: 'timer', maxWait: timeoutMs });
        for await (const msg of replies) found.push(toInstance(msg));
      } catch (err) {
        if (!(err instanceof NoRespondersError)) throw err;
      }
      return found.sort((a, b) => a.id.localeCompare(b.id));
    },
  };
}

function toInstance(msg: Msg): DiscoveredInstance {
  const r = JSON.parse(decoder.decode(msg.data)) as {
    name: string;
    id: string;
    version: string;
    metadata?: Record<string, string> | null;
    started?: string;
    endpoints?: { name: string; data?: unknown }[];
  };
  const health = r.endpoints?.find((e) => e.name === 'health')?.data;
  return {
    name: r.name,
    id: r.id,
    version: r.version,
    metadata: r.metadata ?? {},
    ...(r.started !== undefined && { started: r.started }),
    ...(health !== undefined && { health }),
  };
}
