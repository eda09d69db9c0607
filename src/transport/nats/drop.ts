import type { NatsTransportOptions } from './toolkit/options.js';
import { Names, safeToken } from './toolkit/names.js';

/** Where {@link dropPrefix} connects: the connection options of the transport that made the streams. */
export type DropOptions = Pick<
  NatsTransportOptions,
  'servers' | 'prefix' | 'domain' | 'user' | 'pass' | 'token' | 'authenticator' | 'tls'
> & {
  /** How long to wait for the server, per request. @default 2_000 */
  readonly timeoutMs?: number;
};

/** The streams and buckets (`KV_…` streams) a transport with `prefix` creates. */
export function ownedBy(prefix: string, stream: string): boolean {
  const names = new Names(prefix);
  const upper = safeToken(prefix).toUpperCase();
  const bucketOf = (bucket: string): string => `KV_${safeToken(prefix)}_${bucket}`;
  return (
    stream === names.eventsStream ||
    stream === names.dlqStream ||
    stream === names.delayedStream ||
    stream.startsWith(`${upper}_Q_`) ||
    stream.startsWith(bucketOf('idem_')) ||
    stream === bucketOf('breakers') ||
    stream === bucketOf('redrive')
  );
}

/**
 * Deletes every stream and bucket a transport with `prefix` created: events, dead letters, delayed
 * events, job queues, shared breakers, redrive claims and idempotency marks. For demos and tests that ran under a prefix of their
 * own; the NATS client is loaded when this is called.
 * @returns the names of the streams deleted
 * @throws when the server cannot be reached
 */
export async function dropPrefix(o: DropOptions = {}): Promise<string[]> {
  const [{ connect }, { jetstreamManager }] = await Promise.all([
    import('@nats-io/transport-node'),
    import('@nats-io/jetstream'),
  ]);
  const { prefix = 'bulwark', domain, timeoutMs = 2_000, servers, user, pass, token, authenticator, tls } = o;
  const nc = await connect({
    servers:
      typeof servers === 'string' || servers === undefined
        ? (servers ?? 'nats://127.0.0.1:4222')
        : [...servers],
    name: 'bulwark-drop',
    ...(user !== undefined && { user, pass }),
    ...(token !== undefined && { token }),
    ...(authenticator !== undefined && { authenticator }),
    ...(tls !== undefined && { tls }),
    timeout: timeoutMs,
  });
  try {
    const jsm = await jetstreamManager(nc, { timeout: timeoutMs, ...(domain !== undefined && { domain }) });
    const dropped: string[] = [];
    for await (const info of jsm.streams.list()) {
      const name = info.config.name;
      if (ownedBy(prefix, name) && (await jsm.streams.delete(name))) dropped.push(name);
    }
    return dropped;
  } finally {
    await nc.close();
  }
}
