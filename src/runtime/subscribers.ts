import { types } from 'node:util';
import type {
  SubscriberDefinition,
  SubscriberHost,
  Subscription,
} from '../actors/subscriber/subscriber.actor.js';
import { startSubscriber } from '../actors/subscriber/subscriber.actor.js';
import { ValidationError } from '../errors.js';
import { superviseSubscription } from '../actors/supervisor/supervised-subscription.js';
import { tracedHandler } from '../tracing/spans.js';
import type { Observability } from './observability.js';
import type { ShutdownStep } from './shutdown.js';

/** The longest group name: groups are part of dead-letter subjects and consumer names. */
export const MAX_GROUP_LENGTH = 255;

/**
 * A runtime's subscriptions: starts each as a supervised subscriber actor (a unique id each,
 * consumer spans around single-event handlers, start-up failures counted in metrics) and keeps
 * the live ones, which readiness and shutdown go through.
 * @example
 * const subs = new RuntimeSubscribers(host, observability, 'accounts');
 * subs.start({ kind: 'single', type: 'user.created', decode, handler, options: {} });
 */
export class RuntimeSubscribers {
  private readonly live = new Set<Subscription>();

  constructor(
    private readonly host: SubscriberHost,
    private readonly observability: Observability,
    private readonly service: string,
  ) {}

  /**
   * Starts a subscriber for `def` in `def.options.group` (the service by default).
   * @throws {ValidationError} for a group name that is empty or longer than {@link MAX_GROUP_LENGTH}
   */
  start(def: SubscriberDefinition): Subscription {
    const group = def.options.group ?? this.service;
    if (group.length === 0 || group.length > MAX_GROUP_LENGTH)
      throw new ValidationError(`a group name must be 1 to ${MAX_GROUP_LENGTH} characters long`);
    // Field by field, not `{ ...def, handler }`: a spread followed by a property gets a map of its own.
    const resolved: SubscriberDefinition =
      def.kind === 'single'
        ? {
            kind: 'single',
            type: def.type,
            decode: def.decode,
            handler: tracedHandler(def.type, group, def.handler),
            asyncHandler: def.asyncHandler ?? types.isAsyncFunction(def.handler),
            options: def.options,
          }
        : def;
    const { supervisor, metrics } = this.observability;
    const id = supervisor.freeId(`subscriber:${group}/${def.type}`);
    const sub: Subscription = superviseSubscription(
      supervisor,
      id,
      () => startSubscriber(this.host, resolved, group),
      {
        onStopped: () => this.live.delete(sub),
      },
    );
    sub.ready.catch(() => metrics.onSubscribeError(def.type, group));
    this.live.add(sub);
    return sub;
  }

  /** Every live subscription. */
  list(): Subscription[] {
    return [...this.live];
  }

  /** Shutdown steps: each subscription drains (in-flight handlers finish) in the `consumers` phase. */
  stopSteps(): ShutdownStep[] {
    return this.list().map((s) => ({
      phase: 'consumers' as const,
      name: `subscriber ${s.group}/${s.type} (${s.stats().inFlight} in flight)`,
      run: () => s.stop(),
    }));
  }
}
