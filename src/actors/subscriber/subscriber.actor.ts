import { createActor } from 'xstate';
import type { Env } from '../../env.js';
import { ValidationError } from '../../errors.js';
import type { PayloadDecoder } from '../../events/versions.js';
import { subscriberMachine, type SubscriberActorRef } from '../../machines/subscriber.machine.js';
import { exponential, type Backoff } from '../../retry/backoff.js';
import type { DeliveryMode, ReplayFrom, Transport } from '../../transport/transport.js';
import { BatchPipeline, type BatchHandler } from './batch-pipeline.js';
import { consumerActor, type DeliveryWork } from './consumer.actor.js';
import type { EventMeta } from './meta.js';
import { DeliveryPipeline, type Handler } from './pipeline.js';
import { idempotencyGuard, type IdempotencyOptions } from './idempotency.js';
import type { DeliveryTrace, SettleContext } from './settle.js';
import { emptyStats, type SubscriberObserver, type SubscriberStats } from './stats.js';
import type { Logger } from 'pino';

/** Options of `rt.subscribe` and `rt.subscribeBatch`. */
export interface SubscribeOptions<P = unknown> {
  /** Competing consumers share a group. @default the runtime's service name */
  group?: string;
  /** `'broadcast'`: every runtime instance receives every event. @default 'group' */
  mode?: DeliveryMode;
  /** Total tries including the first. @default 3 */
  maxAttempts?: number;
  /** Delay before each retry. @default exponential({ initialMs: 200, maxMs: 30_000 }) */
  backoff?: Backoff;
  /** Events it rejects are acked without running the handler, never retried. */
  filter?: (payload: P, meta: EventMeta) => boolean;
  /** Handlers in flight at once for this subscription. @default 1 */
  concurrency?: number;
  /** A handler running longer fails its attempt with a TimeoutError. @default 30_000 */
  timeoutMs?: number;
  /** Where a new group starts reading. @default 'all' for groups, 'new' for broadcast */
  from?: ReplayFrom;
  /** Broker ack deadline; a crashed instance's deliveries come back after it. @default 30_000 */
  ackWaitMs?: number;
  /** Consecutive consumer failures tolerated before the subscriber is `failed`. @default 10 */
  maxRestarts?: number;
  /**
   * The handler runs at most once per key within `ttlMs` across every instance of the group, once
   * it has succeeded; duplicates are acked and counted (`stats().duplicates`,
   * `bulwark_duplicates_skipped_total`). Not for `subscribeBatch`. @default none
   */
  idempotency?: IdempotencyOptions<P>;
}

/** Options of `rt.subscribeBatch`. */
export interface BatchSubscribeOptions extends Omit<
  SubscribeOptions,
  'filter' | 'concurrency' | 'idempotency'
> {
  /** @default 10 */
  batchSize?: number;
  /** A partial batch is handled this long after its first event arrived. @default 1_000 */
  batchTimeoutMs?: number;
}

/** A subscriber's state, as its machine says. */
export type SubscriberStatus =
  'starting' | 'consuming' | 'handling' | 'draining' | 'backingOff' | 'failed' | 'stopped';

/** A running subscription. */
export interface Subscription {
  readonly type: string;
  readonly group: string;
  /** Resolves once consuming. @throws when the subscriber fails or is stopped before it is ready */
  readonly ready: Promise<void>;
  /** Stops consuming and waits for in-flight handlers. Idempotent. */
  stop(): Promise<void>;
  status(): SubscriberStatus;
  stats(): Readonly<SubscriberStats>;
  /**
   * Listens to changes of `status()` and of hung handlers (what health reads).
   * @returns a function that removes the listener
   */
  onChange?(listener: () => void): () => void;
}

/** What the runtime lends every subscriber. */
export interface SubscriberHost extends Env {
  readonly transport: Transport;
  readonly instanceId: string;
  readonly observer?: SubscriberObserver;
}

/** A resolved subscription definition. */
export type SubscriberDefinition =
  | {
      readonly kind: 'single';
      /** An event type, or a pattern (`order.*`). */
      type: string;
      decode: PayloadDecoder;
      handler: Handler;
      /** The user's handler is an `async` function (see `PipelineOptions.asyncHandler`). */
      asyncHandler?: boolean;
      options: SubscribeOptions<any>;
    }
  | {
      readonly kind: 'batch';
      type: string;
      decode: PayloadDecoder;
      handler: BatchHandler;
      options: BatchSubscribeOptions;
    };

const DEFAULT_BACKOFF = exponential({ initialMs: 200, maxMs: 30_000 });
const RESTART_BACKOFF = exponential({ initialMs: 500, maxMs: 30_000, jitter: 'equal' });

/** Starts a subscriber actor: the subscriber machine with its consumer actor provided. */
export function startSubscriber(
  host: SubscriberHost,
  def: SubscriberDefinition,
  group: string,
): Subscription {
  const o = def.options;
  const stats = emptyStats();
  const name = `${group}/${def.type}`;
  const logger = host.logger.child({ actor: 'subscriber', id: name });
  const changes = new Set<() => void>();
  const changed = (): void => {
    for (const l of changes) l();
  };
  // The actor is made after its pipeline's options: deliveries reach it through this slot.
  const slot: { actor?: SubscriberActorRef } = {};
  const settle: SettleContext = {
    type: def.type,
    group,
    maxAttempts: Math.max(1, o.maxAttempts ?? 3),
    backoff: o.backoff ?? DEFAULT_BACKOFF,
    logger,
    clock: host.clock,
    stats,
    observer: host.observer,
    onStateChange: changed,
    trace: host.inspect && traceTo(() => slot.actor),
  };
  const timeoutMs = o.timeoutMs ?? 30_000;
  const guard = guardOf(host, def, settle, timeoutMs);
  const batchSize = def.kind === 'batch' ? Math.max(1, def.options.batchSize ?? 10) : 0;
  const spec = {
    type: def.type,
    group,
    mode: o.mode ?? 'group',
    maxInFlight: def.kind === 'batch' ? batchSize : Math.max(1, def.options.concurrency ?? 1),
    instanceId: host.instanceId,
    ...(o.from !== undefined && { from: o.from }),
    ackWaitMs: o.ackWaitMs ?? Math.max(30_000, timeoutMs + 5_000),
  } as const;
  const makeWork = (activity: ConstructorParameters<typeof DeliveryPipeline>[0]['activity']): DeliveryWork =>
    def.kind === 'single'
      ? new DeliveryPipeline({
          ...settle,
          decode: def.decode,
          handler: guard ? guard.wrap(def.handler) : def.handler,
          asyncHandler: def.asyncHandler ?? false,
          filter: def.options.filter,
          idempotency: guard,
          timeoutMs,
          activity,
        })
      : new BatchPipeline({
          ...settle,
          decode: def.decode,
          handler: def.handler,
          batchSize,
          batchTimeoutMs: def.options.batchTimeoutMs ?? 1_000,
          timeoutMs,
          activity,
        });
  const machine = subscriberMachine.provide({
    actors: { consumer: consumerActor(host.transport, spec, makeWork) },
  });
  const actor = createActor(machine, {
    id: `subscriber:${name}`,
    input: { name, maxRestarts: o.maxRestarts ?? 10, restartBackoff: RESTART_BACKOFF },
    clock: host.clock,
    ...(host.inspect && { inspect: host.inspect }),
  });
  slot.actor = actor;
  return hostSubscriber(actor, def.type, group, stats, logger, changes);
}

/** @throws {ValidationError} for invalid `idempotency` options, or any on a batch subscription */
function guardOf(host: SubscriberHost, def: SubscriberDefinition, settle: SettleContext, timeoutMs: number) {
  const options = (def.options as SubscribeOptions).idempotency;
  if (options === undefined) return undefined;
  if (def.kind === 'batch') throw new ValidationError('subscribeBatch does not take the idempotency option');
  const onDuplicate = (): void => {
    settle.stats.duplicates++;
    settle.observer?.onDuplicate?.(settle.type, settle.group);
  };
  return idempotencyGuard(options, host.transport, { ...settle, leaseMs: timeoutMs + 5_000, onDuplicate });
}

/** Sends a delivery's steps to the subscriber's actor (only with an inspector attached). */
function traceTo(ref: () => SubscriberActorRef | undefined): DeliveryTrace {
  return {
    attempt: (eventId, attempt) => ref()?.send({ type: 'delivery.attempt', eventId, attempt }),
    acked: (eventId, attempt) => ref()?.send({ type: 'delivery.acked', eventId, attempt }),
    retry: (eventId, attempt, delayMs) => ref()?.send({ type: 'delivery.retry', eventId, attempt, delayMs }),
    dead: (eventId, attempt, reason) => ref()?.send({ type: 'delivery.dead', eventId, attempt, reason }),
  };
}

function statusOf(value: unknown): SubscriberStatus {
  if (typeof value === 'string') return value as SubscriberStatus;
  const running = (value as { running?: unknown }).running;
  if (running === 'starting' || running === 'draining') return running;
  const consuming = (running as { consuming?: string } | undefined)?.consuming;
  return consuming === 'handling' ? 'handling' : 'consuming';
}

function hostSubscriber(
  actor: ReturnType<typeof createActor<typeof subscriberMachine>>,
  type: string,
  group: string,
  stats: SubscriberStats,
  logger: Logger,
  changes: Set<() => void>,
): Subscription {
  let stopping: Promise<void> | undefined;
  let last: SubscriberStatus | undefined;
  actor.subscribe((snapshot) => {
    const now = statusOf(snapshot.value);
    if (now === last) return;
    last = now;
    for (const l of changes) l();
  });
  const ready = new Promise<void>((resolve, reject) => {
    const sub = actor.subscribe((snapshot) => {
      const status = statusOf(snapshot.value);
      if (status === 'consuming' || status === 'handling') resolve();
      else if (status === 'failed' || status === 'stopped') {
        const err = snapshot.context.lastError;
        reject(new Error(`subscriber ${group}/${type} ${status}${err ? `: ${err.message}` : ''}`));
      } else return;
      sub.unsubscribe();
    });
  });
  ready.catch((err: unknown) => logger.error({ err }, 'subscriber did not start'));
  actor.start();
  return {
    type,
    group,
    ready,
    status: () => statusOf(actor.getSnapshot().value),
    stats: () => stats,
    onChange: (listener) => {
      changes.add(listener);
      return () => void changes.delete(listener);
    },
    stop: () =>
      (stopping ??= new Promise<void>((resolve) => {
        const done = (): void => {
          actor.stop();
          resolve();
        };
        if (actor.getSnapshot().status !== 'active') return done();
        actor.subscribe({ complete: done, error: done });
        actor.send({ type: 'stop' });
      })),
  };
}
