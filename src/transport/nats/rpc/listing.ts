import {
  NoRespondersError as NatsNoResponders,
  RequestError,
  type NatsConnection,
} from '@nats-io/transport-node';
import type { EndpointCounters, EndpointListing } from '../../requests.js';
import { safeToken } from '../toolkit/names.js';
import { endpointOfSubject } from './wire.js';

/** An endpoint in a `$SRV.INFO` or `$SRV.STATS` answer, as it sits on the wire. */
interface MicroEndpointWire {
  readonly name: string;
  readonly subject: string;
  readonly metadata?: Record<string, string> | null;
  readonly num_requests?: number;
  readonly num_errors?: number;
  readonly processing_time?: number;
  readonly last_error?: string;
}

/** A `$SRV.INFO` / `$SRV.STATS` answer, the fields bulwark reads. */
interface MicroAnswerWire {
  readonly name: string;
  readonly id: string;
  readonly endpoints?: readonly MicroEndpointWire[];
}

const decoder = new TextDecoder();

/** Every answer to `$SRV.<verb>[.<service>]` within `timeoutMs`; none when nobody answers. */
async function ask(
  nc: NatsConnection,
  verb: 'INFO' | 'STATS',
  service: string | undefined,
  timeoutMs: number,
): Promise<MicroAnswerWire[]> {
  const subject = service === undefined ? `$SRV.${verb}` : `$SRV.${verb}.${safeToken(service)}`;
  const out: MicroAnswerWire[] = [];
  try {
    const replies = await nc.requestMany(subject, undefined, { strategy: 'timer', maxWait: timeoutMs });
    for await (const msg of replies) {
      try {
        out.push(JSON.parse(decoder.decode(msg.data)) as MicroAnswerWire);
      } catch {
        // Not a micro answer: some other client answers on $SRV; skip it.
      }
    }
  } catch (err) {
    const nobody = err instanceof NatsNoResponders || (err instanceof RequestError && err.isNoResponders());
    if (!nobody) throw err;
  }
  return out;
}

function countersOf(e: MicroEndpointWire | undefined): EndpointCounters | undefined {
  if (!e || e.num_requests === undefined) return undefined;
  return {
    requests: e.num_requests,
    errors: e.num_errors ?? 0,
    processingNs: e.processing_time ?? 0,
    lastError: e.last_error ?? '',
  };
}

/**
 * The endpoints of this prefix served by `service`'s instances (every service's when undefined),
 * from `$SRV.INFO` (metadata) joined with `$SRV.STATS` (counters); endpoints of other prefixes and
 * of non-bulwark services are left out.
 */
export async function listServed(
  nc: NatsConnection,
  prefix: string,
  service: string | undefined,
  timeoutMs: number,
): Promise<EndpointListing[]> {
  const [infos, stats] = await Promise.all([
    ask(nc, 'INFO', service, timeoutMs),
    ask(nc, 'STATS', service, timeoutMs),
  ]);
  const statsOf = new Map(stats.map((s) => [`${s.name}\u0000${s.id}`, s]));
  const out: EndpointListing[] = [];
  for (const info of infos) {
    const counted = statsOf.get(`${info.name}\u0000${info.id}`)?.endpoints ?? [];
    for (const e of info.endpoints ?? []) {
      const name = endpointOfSubject(prefix, e.subject);
      if (name === undefined) continue;
      const counters = countersOf(counted.find((c) => c.subject === e.subject));
      out.push({
        service: info.name,
        instanceId: info.id,
        name,
        subject: e.subject,
        metadata: e.metadata ?? {},
        ...(counters && { counters }),
      });
    }
  }
  return out.sort((a, b) => a.name.localeCompare(b.name) || a.instanceId.localeCompare(b.instanceId));
}
