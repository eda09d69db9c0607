import {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  RetentionPolicy,
  StorageType,
  type ConsumerConfig,
  type ConsumerInfo,
  type JetStreamManager,
  type StreamConfig,
} from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';
import type { ConsumerSpec, ReplayFrom } from '../../transport.js';
import type { Names } from './names.js';
import type { ResolvedNatsOptions } from './options.js';
import { MissingStreamError } from '../../../errors.js';

/** @returns true when the error is JetStream's "not found" for a stream or consumer */
export function isNotFound(err: unknown): boolean {
  if (!(err instanceof JetStreamApiError)) return false;
  return err.code === JetStreamApiCodes.StreamNotFound || err.code === JetStreamApiCodes.ConsumerNotFound;
}

/** @returns true for a message lookup that found nothing (no stream, or no message on the subject) */
export function isNoMessage(err: unknown): boolean {
  return (
    isNotFound(err) || (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.NoMessageFound)
  );
}

function streamConfigs(names: Names, o: ResolvedNatsOptions): (Partial<StreamConfig> & { name: string })[] {
  const common = {
    retention: RetentionPolicy.Limits,
    storage: o.storage === 'memory' ? StorageType.Memory : StorageType.File,
    num_replicas: o.replicas,
    discard: DiscardPolicy.Old,
    max_bytes: o.maxBytes,
    duplicate_window: nanos(o.duplicateWindowMs),
  };
  return [
    { ...common, name: names.eventsStream, subjects: [names.eventsWildcard], max_age: nanos(o.maxAgeMs) },
    { ...common, name: names.dlqStream, subjects: [names.dlqWildcard], max_age: nanos(o.deadLetterMaxAgeMs) },
  ];
}

/**
 * The stream of events published with `delayMs`: never aged out (an event may be due in a month),
 * and full means refusing new delayed publishes, never dropping held ones.
 */
export function delayedStreamConfig(
  names: Names,
  o: ResolvedNatsOptions,
): Partial<StreamConfig> & { name: string } {
  return {
    name: names.delayedStream,
    subjects: [names.delayedWildcard],
    retention: RetentionPolicy.Limits,
    storage: o.storage === 'memory' ? StorageType.Memory : StorageType.File,
    num_replicas: o.replicas,
    discard: DiscardPolicy.New,
    max_bytes: o.maxBytes,
    duplicate_window: nanos(o.duplicateWindowMs),
  };
}

/**
 * Creates the events and dead-letter streams when they are missing. Existing streams are left as
 * they are: an operator may have tuned them, and a changed config is an explicit `nats stream edit`.
 */
export async function ensureStreams(
  jsm: JetStreamManager,
  names: Names,
  o: ResolvedNatsOptions,
): Promise<void> {
  for (const config of streamConfigs(names, o)) {
    try {
      await jsm.streams.info(config.name);
    } catch (err) {
      if (!isNotFound(err)) throw err;
      if (!o.provision) throw new MissingStreamError(config.name ?? '', o.prefix);
      await jsm.streams.add(config).catch(async (addErr: unknown) => {
        // Another instance created it between our info and add.
        await jsm.streams.info(config.name).catch(() => Promise.reject(addErr));
      });
    }
  }
}

/**
 * Creates the delay stream when it is missing, on the first publish with `delayMs`: a service that
 * never delays an event creates nothing for it.
 * @throws {MissingStreamError} when it is missing and `provision` is off
 */
export async function ensureDelayedStream(
  jsm: JetStreamManager,
  names: Names,
  o: ResolvedNatsOptions,
): Promise<void> {
  const config = delayedStreamConfig(names, o);
  const exists = await jsm.streams.info(config.name).then(
    () => true,
    (err: unknown) => (isNotFound(err) ? false : Promise.reject(err)),
  );
  if (exists) return;
  if (!o.provision) throw new MissingStreamError(config.name, o.prefix);
  await jsm.streams.add(config).catch(async (addErr: unknown) => {
    await jsm.streams.info(config.name).catch(() => Promise.reject(addErr));
  });
}

/** The deliver policy of a starting point. */
export function deliverFrom(from: ReplayFrom): Partial<ConsumerConfig> {
  if (from === 'all') return { deliver_policy: DeliverPolicy.All };
  if (from === 'new') return { deliver_policy: DeliverPolicy.New };
  if ('seq' in from) return { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: from.seq };
  return { deliver_policy: DeliverPolicy.StartTime, opt_start_time: new Date(from.time).toISOString() };
}

/** The name and config of the consumer a subscriber instance reads from. */
export function consumerConfig(
  names: Names,
  o: ResolvedNatsOptions,
  spec: ConsumerSpec,
): { name: string; config: Partial<ConsumerConfig> } {
  const base: Partial<ConsumerConfig> = {
    ack_policy: AckPolicy.Explicit,
    filter_subject: names.eventSubject(spec.type),
    ack_wait: nanos(spec.ackWaitMs ?? o.ackWaitMs),
    max_deliver: -1,
    max_ack_pending: o.maxAckPending,
  };
  if (spec.mode === 'broadcast') {
    const name = names.broadcastConsumer(spec.instanceId, spec.type);
    const idle = nanos(o.broadcastInactiveMs);
    return { name, config: { ...base, name, inactive_threshold: idle, ...deliverFrom(spec.from ?? 'new') } };
  }
  const name = names.groupConsumer(spec.group, spec.type);
  return { name, config: { ...base, durable_name: name, ...deliverFrom(spec.from ?? 'all') } };
}

function sameStart(info: ConsumerInfo, wanted: Partial<ConsumerConfig>): boolean {
  const c = info.config;
  if (c.deliver_policy !== wanted.deliver_policy) return false;
  if (wanted.opt_start_seq !== undefined && c.opt_start_seq !== wanted.opt_start_seq) return false;
  if (wanted.opt_start_time !== undefined) {
    return Date.parse(c.opt_start_time ?? '') === Date.parse(wanted.opt_start_time);
  }
  return true;
}

/**
 * Finds or creates the consumer for a subscriber instance and returns its name. An existing one
 * keeps its position, unless the subscription asks for an explicit different start and nothing is
 * outstanding on it: then it is recreated there (a replay).
 */
export async function ensureConsumer(
  jsm: JetStreamManager,
  names: Names,
  o: ResolvedNatsOptions,
  spec: ConsumerSpec,
): Promise<string> {
  const { name, config } = consumerConfig(names, o, spec);
  const existing = await jsm.consumers.info(names.eventsStream, name).catch((err: unknown) => {
    if (isNotFound(err)) return undefined;
    throw err;
  });
  if (existing) {
    const replay = spec.from !== undefined && !sameStart(existing, config) && existing.num_ack_pending === 0;
    if (!replay) return name;
    await jsm.consumers.delete(names.eventsStream, name).catch(() => undefined);
  }
  await jsm.consumers.add(names.eventsStream, config).catch(async (err: unknown) => {
    // A sibling instance created it with another start; joining it is what a group means.
    await jsm.consumers.info(names.eventsStream, name).catch(() => Promise.reject(err));
  });
  return name;
}
