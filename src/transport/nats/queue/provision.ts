import {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  RetentionPolicy,
  StorageType,
  type ConsumerConfig,
} from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';
import { MissingStreamError } from '../../../errors.js';
import type { QueueStoreOptions } from '../../../queue/store.js';
import { PRIORITIES } from '../../../queue/types.js';
import type { QueueNames } from '../toolkit/names.js';
import { isNotFound } from '../toolkit/provision.js';
import type { QueueContext } from './context.js';
import { COUNT_CONSUMERS, JobKind } from './wire.js';
import { GroupNames } from './group-entry.js';

const MAX_ACTIVE = 100_000;
/** The consumers that hand out jobs: one per priority (JetStream has no per-message priority). */
export const WORK_KINDS = PRIORITIES;
/**
 * The consumers of jobs parked by an earlier version, whose records waited unacknowledged on them
 * until due: no longer created, drained where they exist (see `parked.ts`).
 */
export const LEGACY_PARKED_KINDS = [JobKind.delayed, JobKind.retry] as const;

/** The consumer that hands out ordered groups' turns (see `group-drivers.ts`). */
export const GROUPS_CONSUMER = 'groups';
/** The consumer that counts ordered groups' index entries: jobs waiting in a group (see `groups.ts`). */
export const GROUPED_COUNT_CONSUMER = 'count_grouped';

/** How many consumers every queue stream has: one per priority, the counting ones, and the groups'. */
const OWN_CONSUMERS = WORK_KINDS.length + Object.keys(COUNT_CONSUMERS).length + 2;

/**
 * What a queue stream's description says once its consumers were made with these settings. Making
 * (or reading) a consumer whose filter has a wildcard costs the server a pass over the queue's
 * subjects, ~50 ms each beside 100,000 parked jobs: a process that opens the queue and finds this
 * mark, with every consumer counted, makes none again.
 */
function provisionedMark(opts: Pick<QueueStoreOptions, 'ackWaitMs'>): string {
  return `bulwark job queue: consumers v2, ack wait ${opts.ackWaitMs} ms`;
}

/**
 * Creates the queue's stream and consumers when missing (one stream per queue; the stream keeps one
 * message per subject). With `provision: false` it only checks that the stream is there.
 * Idempotent: a stream whose description carries {@link provisionedMark} and that counts every
 * consumer is left as it is; one that lost a consumer, or was made with other settings, is made
 * whole again.
 * @throws {MissingStreamError} when the stream is missing and may not be created
 */
export async function provisionQueue(ctx: QueueContext, opts: QueueStoreOptions): Promise<void> {
  const { jsm, options: o, names } = ctx;
  const exists = await jsm.streams.info(names.stream).catch((err: unknown) => {
    if (isNotFound(err)) return undefined;
    throw err;
  });
  if (!exists && !o.provision) throw new MissingStreamError(names.stream, o.prefix);
  if (!o.provision) return; // its consumers came with the stream
  const mark = provisionedMark(opts);
  if (exists?.config.description === mark && exists.state.consumer_count >= OWN_CONSUMERS) return;
  const groups = new GroupNames(names.base);
  if (!exists) {
    await jsm.streams
      .add({
        name: names.stream,
        subjects: [`${names.base}.>`],
        retention: RetentionPolicy.Limits,
        storage: o.storage === 'memory' ? StorageType.Memory : StorageType.File,
        num_replicas: o.replicas,
        discard: DiscardPolicy.Old,
        max_msgs_per_subject: 1,
        duplicate_window: nanos(opts.dedupWindowMs),
      })
      .catch(async (err: unknown) => jsm.streams.info(names.stream).catch(() => Promise.reject(err)));
  }
  await Promise.all([
    ...WORK_KINDS.map((kind) => jsm.consumers.add(names.stream, workConsumer(names, kind, opts.ackWaitMs))),
    ...[JobKind.done, JobKind.dead, JobKind.cancelled, JobKind.later, JobKind.backoff].map((kind) =>
      jsm.consumers.add(names.stream, {
        durable_name: COUNT_CONSUMERS[kind],
        filter_subject: names.filter(kind),
        ack_policy: AckPolicy.None,
        deliver_policy: DeliverPolicy.All,
      }),
    ),
    jsm.consumers.add(names.stream, {
      durable_name: GROUPS_CONSUMER,
      filter_subject: groups.turns(),
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      ack_wait: nanos(opts.ackWaitMs),
      max_deliver: -1,
    }),
    jsm.consumers.add(names.stream, {
      durable_name: GROUPED_COUNT_CONSUMER,
      filter_subject: groups.allEntries(),
      ack_policy: AckPolicy.None,
      deliver_policy: DeliverPolicy.All,
    }),
  ]);
  // Marked once every consumer is there: an open that failed half way leaves no mark. Unmarked (an
  // account that may make consumers but not edit streams), the next open makes them again.
  if (exists?.config.description !== mark)
    await jsm.streams.update(names.stream, { description: mark }).catch((err: unknown) => {
      ctx.logger.debug({ err, stream: names.stream }, 'could not mark the queue stream as provisioned');
    });
}

function workConsumer(names: QueueNames, kind: JobKind, ackWaitMs: number): Partial<ConsumerConfig> {
  return {
    durable_name: kind,
    filter_subject: names.filter(kind),
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: nanos(ackWaitMs),
    max_deliver: -1,
    max_ack_pending: MAX_ACTIVE,
  };
}
