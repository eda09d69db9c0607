// `bulwark/nats`: what only the NATS JetStream transport offers, for tools and scripts. Importing
// this module loads no NATS code either: each function loads the client when it is called.

import { silentLogger } from './logging.js';
import type { KeyValueStore } from './transport/key-value.js';
import { natsTransport } from './transport/nats/nats-transport.js';
import type { NatsTransportOptions } from './transport/nats/toolkit/options.js';
import type { ReplayRequest, ReplayResult } from './transport/transport.js';

export { natsTransport };
export type { NatsTransportOptions, NatsOutboxOptions } from './transport/nats/toolkit/options.js';
export type { ReplayRequest, ReplayResult } from './transport/transport.js';

/** Where {@link replayEvents} and {@link openBucket} connect. */
export type NatsToolOptions = Pick<
  NatsTransportOptions,
  'servers' | 'prefix' | 'domain' | 'user' | 'pass' | 'token' | 'authenticator' | 'tls'
> & {
  /** How long to wait for the server, per request. @default 2_000 */
  readonly timeoutMs?: number;
};

/** Options of {@link replayEvents}: the range to replay and where the streams are. */
export type ReplayOptions = ReplayRequest & NatsToolOptions;

function toolTransport(o: NatsToolOptions, name: string, requireStreams: boolean) {
  const { timeoutMs, ...connection } = o;
  return natsTransport({
    ...connection,
    requestTimeoutMs: timeoutMs ?? 2_000,
    name,
    // A tool binds to what a service created; a mistyped prefix must say so, not create streams.
    provision: false,
    requireStreams,
    startWithoutBroker: false,
  });
}

/**
 * Re-delivers a range of one event type's stream to one group over a connection of its own: each
 * stored event in the range is published again with the redrive-group header, so that only `group`
 * handles it. Events stored after the replay starts (its own copies among them) are not replayed.
 * @throws {MissingStreamError} when the events stream does not exist under `prefix`
 * @throws {TransportError} when the server cannot be reached
 * @example
 * await replayEvents({ servers: 'nats://127.0.0.1:4222', type: 'user.created', group: 'mailer', fromSeq: 100, toSeq: 200 });
 */
export async function replayEvents(o: ReplayOptions): Promise<ReplayResult> {
  const { type, group, fromSeq, toSeq, since, dryRun, onProgress, ...connection } = o;
  const transport = toolTransport(connection, 'bulwark-replay', true);
  await transport.start({ service: 'bulwark-replay', logger: silentLogger });
  try {
    const request = { type, group, fromSeq, toSeq, since, dryRun, onProgress };
    return await transport.replay!(request);
  } finally {
    await transport.close();
  }
}

/** A key-value bucket on its own connection; `close()` ends both. */
export interface NatsBucket {
  readonly kv: KeyValueStore;
  close(): Promise<void>;
}

/**
 * Opens a JetStream key-value bucket (the shared breakers' `bulwark_breakers`, or one of yours)
 * through bulwark's compare-and-set interface, over a connection of its own.
 * @throws {TransportError} when the server cannot be reached
 * @example
 * const { kv, close } = await openBucket('bulwark_breakers', { servers: process.env.NATS_URL });
 * console.log(await kv.keys());
 * await close();
 */
export async function openBucket(bucket: string, o: NatsToolOptions = {}): Promise<NatsBucket> {
  const transport = toolTransport(o, 'bulwark-kv', false);
  await transport.start({ service: 'bulwark-kv', logger: silentLogger });
  try {
    return { kv: await transport.keyValue(bucket), close: () => transport.close() };
  } catch (err) {
    await transport.close();
    throw err;
  }
}

export { dropPrefix, type DropOptions } from './transport/nats/drop.js';
