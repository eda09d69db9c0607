import type { Subscription, SubscriberStatus } from '../subscriber/subscriber.actor.js';
import type { SubscriberStats } from '../subscriber/stats.js';
import type { Supervision, Supervisor } from './supervisor.js';
import type { RestartPolicy, SupervisedChild } from './types.js';

/**
 * A subscription under supervision: when its subscriber gives up (`failed`, after its own consumer
 * restarts ran out), the supervisor starts a fresh subscriber with backoff. The handle the user
 * holds stays the same; counters carry over across restarts.
 */
class SupervisedSubscription implements Subscription, SupervisedChild {
  readonly kind = 'subscriber';
  readonly machine = 'subscriber';
  readonly type: string;
  readonly group: string;
  readonly ready: Promise<void>;
  private current: Subscription;
  private readonly carried: SubscriberStats;
  private stopping: Promise<void> | undefined;
  private supervision: Supervision | undefined;
  private detach: (() => void) | undefined;

  constructor(
    readonly id: string,
    private readonly supervisor: Supervisor,
    private readonly start: () => Subscription,
    private readonly onStopped: (() => void) | undefined,
  ) {
    this.current = start();
    this.type = this.current.type;
    this.group = this.current.group;
    this.ready = this.current.ready;
    this.carried = { ...this.current.stats() };
    for (const k of Object.keys(this.carried) as (keyof SubscriberStats)[]) this.carried[k] = 0;
  }

  status(): SubscriberStatus {
    return this.current.status();
  }

  /** @internal reports every change of the current incarnation to its supervision */
  attach(supervision: Supervision): void {
    this.supervision = supervision;
    this.detach?.();
    this.detach = this.current.onChange?.(() => supervision.changed());
  }

  /** The subscriber's status, or `hung` while a timed-out handler has not returned. */
  state(): string {
    return this.current.stats().hung > 0 ? 'hung' : this.current.status();
  }

  stats(): Readonly<SubscriberStats> {
    const now = this.current.stats();
    const out = { ...now };
    for (const k of Object.keys(out) as (keyof SubscriberStats)[])
      if (k !== 'inFlight' && k !== 'hung') out[k] += this.carried[k];
    return out;
  }

  restart(): void {
    const old = this.current;
    const counts = old.stats();
    for (const k of Object.keys(this.carried) as (keyof SubscriberStats)[]) this.carried[k] += counts[k];
    this.current = this.start();
    this.current.ready.catch(() => undefined);
    if (this.supervision) this.attach(this.supervision);
    void old.stop();
  }

  /** Bound: callers may detach it from the handle. */
  readonly stop = (): Promise<void> => this.supervisor.stopChild(this);

  halt(): Promise<void> {
    this.detach?.();
    return (this.stopping ??= this.current.stop().then(() => this.onStopped?.()));
  }
}

/** Options of {@link superviseSubscription}. */
export interface SupervisedSubscriptionOptions {
  /** @default the supervisor's default policy */
  readonly policy?: RestartPolicy | false;
  /** Called once the subscription has stopped for good (its handlers drained). */
  readonly onStopped?: () => void;
}

/**
 * Starts a subscriber under supervision; each change of its status is reported, and `failed` restarts it.
 * @param start - starts one subscriber incarnation
 * @example
 * const sub = superviseSubscription(supervisor, 'subscriber:mailer/user.created', () => startSubscriber(...));
 */
export function superviseSubscription(
  supervisor: Supervisor,
  id: string,
  start: () => Subscription,
  options: SupervisedSubscriptionOptions = {},
): Subscription {
  const { policy = {}, onStopped } = options;
  const sub = new SupervisedSubscription(id, supervisor, start, onStopped);
  const entry = supervisor.add(sub, policy, () =>
    sub.status() === 'failed' ? { name: 'SubscriberFailed', message: `subscriber ${id} failed` } : undefined,
  );
  sub.attach(entry);
  // It may have failed before it was listened to.
  entry.changed();
  return sub;
}
