import { assign, fromCallback, sendTo, setup, type ActorRefFrom } from 'xstate';
import type { Backoff } from '../retry/backoff.js';

/**
 * The subscriber's life: it starts a consumer, consumes (idle or handling), backs off and starts
 * again when the consumer fails, drains in-flight handlers on stop, and fails for good after
 * `maxRestarts` consecutive consumer failures.
 *
 * Per-message work (decode, validate, filter, handler, ack / retry / dead-letter) runs inside the
 * invoked `consumer` actor and reaches this machine only as edges: `work.started` when in-flight
 * work goes from none to some, `work.idle` when it settles back to none. A busy subscriber costs
 * this machine no events per message. A failed attempt is retried with a delayed redelivery from
 * the broker (`nak(delay)`), so the delay survives a crash of this process.
 */

/** What the host gives the machine. */
export interface SubscriberInput {
  /** `<group>/<type>`, for people and the inspector. */
  readonly name: string;
  /** Consecutive consumer failures tolerated before `failed`. */
  readonly maxRestarts: number;
  /** Delay before starting the consumer again after its `n`-th consecutive failure. */
  readonly restartBackoff: Backoff;
}

/** What an inspected subscriber has seen of its deliveries (counted only while an inspector is attached). */
export interface DeliveryCounts {
  readonly attempts: number;
  readonly acked: number;
  readonly retried: number;
  readonly deadLettered: number;
}

export interface SubscriberContext extends SubscriberInput {
  /** Consecutive consumer failures since it last became ready. */
  readonly failures: number;
  readonly lastError: { readonly name: string; readonly message: string } | undefined;
  readonly deliveries: DeliveryCounts;
}

/** Events the consumer actor sends back, and the host's `stop`. */
export type SubscriberEvent =
  | { type: 'consumer.ready' }
  | { type: 'consumer.failed'; error: { name: string; message: string } }
  | { type: 'consumer.drained' }
  | { type: 'work.started' }
  | { type: 'work.idle' }
  | { type: 'stop' }
  /**
   * A delivery's steps, sent only while an inspector is attached so that it shows each attempt,
   * retry delay, ack and dead letter; without one the machine hears of deliveries only as edges.
   */
  | { type: 'delivery.attempt'; eventId: string; attempt: number }
  | { type: 'delivery.acked'; eventId: string; attempt: number }
  | { type: 'delivery.retry'; eventId: string; attempt: number; delayMs: number }
  | { type: 'delivery.dead'; eventId: string; attempt: number; reason: string };

/** Commands the machine sends to its consumer actor. */
export type ConsumerCommand = { type: 'drain' };

/** Input of the invoked consumer actor. */
export interface ConsumerActorInput {
  readonly name: string;
}

export const subscriberMachine = setup({
  types: {
    context: {} as SubscriberContext,
    events: {} as SubscriberEvent,
    input: {} as SubscriberInput,
  },
  actors: {
    // Supplied by the actor layer with `.provide()`: it owns the transport consumer and the handlers.
    consumer: fromCallback<ConsumerCommand, ConsumerActorInput>(() => undefined),
  },
  guards: {
    canRestart: ({ context }) => context.failures < context.maxRestarts,
  },
  delays: {
    restartDelay: ({ context }) => context.restartBackoff.delay(context.failures),
  },
  actions: {
    recordFailure: assign({
      failures: ({ context }) => context.failures + 1,
      lastError: ({ event }) => (event.type === 'consumer.failed' ? event.error : undefined),
    }),
    resetFailures: assign({ failures: 0 }),
    countDelivery: assign({
      deliveries: ({ context: { deliveries: d }, event }) => ({
        attempts: d.attempts + (event.type === 'delivery.attempt' ? 1 : 0),
        acked: d.acked + (event.type === 'delivery.acked' ? 1 : 0),
        retried: d.retried + (event.type === 'delivery.retry' ? 1 : 0),
        deadLettered: d.deadLettered + (event.type === 'delivery.dead' ? 1 : 0),
      }),
    }),
  },
}).createMachine({
  id: 'subscriber',
  context: ({ input }) => ({
    ...input,
    failures: 0,
    lastError: undefined,
    deliveries: { attempts: 0, acked: 0, retried: 0, deadLettered: 0 },
  }),
  initial: 'running',
  on: {
    'delivery.attempt': { actions: 'countDelivery' },
    'delivery.acked': { actions: 'countDelivery' },
    'delivery.retry': { actions: 'countDelivery' },
    'delivery.dead': { actions: 'countDelivery' },
  },
  states: {
    running: {
      invoke: { id: 'consumer', src: 'consumer', input: ({ context }) => ({ name: context.name }) },
      initial: 'starting',
      states: {
        starting: {
          on: { 'consumer.ready': { target: 'consuming', actions: 'resetFailures' } },
        },
        consuming: {
          initial: 'idle',
          states: {
            idle: { on: { 'work.started': 'handling' } },
            handling: { on: { 'work.idle': 'idle' } },
          },
        },
        draining: {
          entry: sendTo('consumer', { type: 'drain' }),
          on: {
            stop: {},
            'consumer.drained': '#subscriber.stopped',
            'consumer.failed': '#subscriber.stopped',
          },
        },
      },
      on: {
        stop: '.draining',
        'consumer.failed': [
          { guard: 'canRestart', target: 'backingOff', actions: 'recordFailure' },
          { target: 'failed', actions: 'recordFailure' },
        ],
      },
    },
    backingOff: {
      after: { restartDelay: 'running' },
      on: { stop: 'stopped' },
    },
    failed: {
      on: { stop: 'stopped' },
    },
    stopped: { type: 'final' },
  },
});

export type SubscriberActorRef = ActorRefFrom<typeof subscriberMachine>;
