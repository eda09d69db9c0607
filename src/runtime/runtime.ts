import type { ActorOptions, AnyActorLogic } from 'xstate';
import type { Clock } from '../clock.js';
import { ClosedError } from '../errors.js';
import type {
  EventRegistry,
  EventSchemas,
  EventTypeOf,
  PayloadInput,
  PayloadOf,
} from '../events/registry.js';
import { unknownType } from '../events/registry.js';
import type { Logger } from '../logging.js';
import type { BatchHandler } from '../actors/subscriber/batch-pipeline.js';
import type { EventMeta } from '../actors/subscriber/meta.js';
import {
  startSubscriber,
  type BatchSubscribeOptions,
  type SubscribeOptions,
  type Subscription,
} from '../actors/subscriber/subscriber.actor.js';
import type { DeadLetterStore } from '../transport/dead-letters.js';
import type { OutboundMessage, PublishReceipt, Transport } from '../transport/transport.js';
import { buildEnvelope, headersFor, type PublishOptions } from './envelope.js';
import { otelActive } from '../tracing/otel.js';
import { BreakerRegistry } from '../breaker/registry.js';
import type { Breaker } from '../breaker/breaker.js';
import type { BreakerOptions, BreakerStats } from '../breaker/options.js';
import { Queue } from '../queue/queue.js';
import type { QueueOptions } from '../queue/options.js';
import {
  spawnSupervised,
  type SpawnOptions,
  type SupervisedActor,
} from '../actors/supervisor/hosted-actor.js';
import { superviseQueue } from '../actors/supervisor/supervised-queue.js';
import type { Supervisor } from '../actors/supervisor/supervisor.js';
import type { HealthMonitor } from '../health/health.js';
import type { RuntimeMetrics } from '../metrics/metrics.js';
import { runtimeRoutes, type Readiness } from '../http/routes.js';
import { withDashboard } from '../http/dashboard/routes.js';
import { serveRoutes, type HttpServer, type ListenOptions } from '../http/server.js';
import {
  advertise,
  discover,
  observe,
  publishSpan,
  readiness,
  supervisedSubscriber,
  tracedHandler,
} from './observability.js';
import type { DiscoveredInstance } from '../transport/presence.js';
import { runShutdown, type ShutdownPhase, type ShutdownStep } from './shutdown.js';
import { handleSignals } from './signals.js';

/** One item of `rt.publishMany`. */
export type PublishItem<S extends EventSchemas> = {
  [T in EventTypeOf<S>]: {
    type: T;
    payload: PayloadInput<S, T>;
    id?: string;
    headers?: Record<string, string>;
  };
}[EventTypeOf<S>];

/** Read access to a runtime's circuit breakers. */
export interface BreakerDirectory {
  /** @returns every breaker's stats, by name */
  stats(): Record<string, BreakerStats>;
  list(): Breaker[];
  get(name: string): Breaker | undefined;
}

/** Everything a runtime is made of; built by `createRuntime`. */
export interface RuntimeParts<S extends EventSchemas> {
  readonly service: string;
  readonly version: string;
  readonly events: EventRegistry<S>;
  readonly transport: Transport;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly instanceId: string;
  readonly inspect: ActorOptions<AnyActorLogic>['inspect'] | undefined;
  /** After this long, shutdown gives up on what is left and logs it. @default 30_000 */
  readonly shutdownTimeoutMs?: number;
  /** Shut down gracefully on SIGTERM / SIGINT, then exit. @default true */
  readonly handleSignals?: boolean;
}

/**
 * A bulwark runtime: publishes typed events, hosts subscriber actors, and shuts them down in order.
 * Made by `createRuntime`.
 */
export class Runtime<S extends EventSchemas = EventSchemas> {
  readonly service: string;
  readonly events: EventRegistry<S>;
  readonly transport: Transport;
  readonly logger: Logger;
  /** The dead-letter store of this runtime's transport. */
  readonly deadLetters: DeadLetterStore;
  /** This runtime's circuit breakers: `rt.breakers.stats()` gives every breaker's stats by name. */
  readonly breakers: BreakerDirectory;
  private readonly breakerRegistry: BreakerRegistry;
  private readonly subscriptions = new Set<Subscription>();
  private readonly queues = new Set<Queue>();
  private readonly shutdownHooks: (() => Promise<void>)[] = [];
  /** Supervises every actor of this runtime: subscribers and `rt.spawn` machines. */
  readonly supervisor: Supervisor;
  /** Checks, registered services, overrides and alerts: `rt.health.report()`. */
  readonly health: HealthMonitor;
  /** This runtime's Prometheus registry and the hooks that feed it. */
  readonly metrics: RuntimeMetrics;
  private readonly phasedHooks: ShutdownStep[] = [];
  private readonly servers = new Set<HttpServer>();
  private readonly releaseSignals: (() => void) | undefined;
  private shutdownCompleted = true;
  private readonly advertised: Promise<(() => Promise<void>) | undefined>;
  private closing: Promise<void> | undefined;

  constructor(protected readonly parts: RuntimeParts<S>) {
    this.service = parts.service;
    this.events = parts.events;
    this.transport = parts.transport;
    this.logger = parts.logger;
    this.deadLetters = parts.transport.deadLetters;
    ({ supervisor: this.supervisor, health: this.health, metrics: this.metrics } = observe(parts));
    this.releaseSignals = parts.handleSignals === false ? undefined : handleSignals(this);
    this.advertised = advertise(parts, this.health);
    this.breakerRegistry = new BreakerRegistry({
      onCreate: (b) => void this.metrics.trackBreaker(b),
      service: parts.service,
      logger: parts.logger.child({ actor: 'breaker' }),
      clock: parts.clock,
      ...(parts.inspect && { inspect: parts.inspect as (ev: unknown) => void }),
      keyValue: (bucket) => parts.transport.keyValue(bucket),
    });
    const registry = this.breakerRegistry;
    this.breakers = {
      stats: () => registry.stats(),
      list: () => registry.list(),
      get: (name) => registry.find(name),
    };
  }

  /**
   * The circuit breaker `name`, created with `options` the first time; the same instance afterwards.
   * With `shared: true` every instance of this service sees one state, kept in the transport's KV bucket.
   * @throws {ValidationError} when an option is out of range
   * @throws {ClosedError} after `shutdown()`
   * @example
   * const stripe = rt.breaker('stripe', { failureThreshold: 0.5, resetTimeoutMs: 30_000, timeoutMs: 5_000 });
   * const charge = await stripe.execute((signal) => fetch(url, { signal }));
   */
  breaker(name: string, options?: BreakerOptions): Breaker {
    this.assertOpen();
    return this.breakerRegistry.get(name, options);
  }

  /**
   * Validates the payload, wraps it in a CloudEvent and resolves once the transport has stored it.
   * @returns the event id, its sequence, and `duplicate: true` when the id was already stored
   * @throws {ValidationError} for an invalid payload or an unknown type; nothing is published
   * @throws {BackpressureError} when the broker is unreachable and the outbox is full
   * @example
   * await rt.publish('user.created', { id: '1', username: 'ada', role: 'user' });
   */
  async publish<T extends EventTypeOf<S>>(
    type: T,
    payload: PayloadInput<S, T>,
    options?: PublishOptions,
  ): Promise<PublishReceipt> {
    this.assertOpen();
    if (otelActive()) return this.publishTraced(type, payload, options);
    // The plain path allocates no closure: a publish is on every service's hot path.
    const msg = this.outbound(type, payload, options);
    try {
      const receipt = await this.transport.publish(msg);
      this.metrics.onPublished(type);
      return receipt;
    } catch (err) {
      this.metrics.onPublishError(type);
      throw err;
    }
  }

  private async publishTraced(type: string, payload: unknown, options: PublishOptions | undefined) {
    const stored = publishSpan(type, options, (o) => this.transport.publish(this.outbound(type, payload, o)));
    stored.then(
      () => this.metrics.onPublished(type),
      () => this.metrics.onPublishError(type),
    );
    return stored;
  }

  /**
   * Publishes many events pipelined; every payload is validated before any is sent.
   * @throws {ValidationError} naming the first invalid item; nothing is published
   */
  async publishMany(items: readonly PublishItem<S>[]): Promise<PublishReceipt[]> {
    this.assertOpen();
    const messages = items.map((item) => this.outbound(item.type, item.payload, item));
    return this.transport.publishMany(messages).then(
      (receipts) => (messages.forEach((m) => this.metrics.onPublished(m.type)), receipts),
      (err: unknown) => (
        messages.forEach((m) => this.metrics.onPublishError(m.type)),
        Promise.reject(err as Error)
      ),
    );
  }

  private outbound(type: string, payload: unknown, options: PublishOptions | undefined): OutboundMessage {
    const data = this.events.parse(type, payload);
    const event = buildEnvelope(this.service, type, data, options);
    return {
      type,
      event,
      msgId: event.id,
      uniqueId: options?.id === undefined,
      headers: headersFor(event, options?.headers),
    };
  }

  /**
   * Starts a subscriber actor for one event type.
   * @throws {ValidationError} for an unknown type
   * @example
   * const sub = rt.subscribe('user.created', async (user, meta) => mailer.welcome(user), { maxAttempts: 4 });
   * await sub.ready;
   */
  subscribe<T extends EventTypeOf<S>>(
    type: T,
    handler: (payload: PayloadOf<S, T>, meta: EventMeta<T>) => unknown,
    options: SubscribeOptions<PayloadOf<S, T>> = {},
  ): Subscription {
    const schema = this.schemaOf(type);
    const group = options.group ?? this.service;
    const traced = tracedHandler(type, group, handler as never);
    return this.track(
      supervisedSubscriber(this, group, type, () =>
        startSubscriber(
          this.subscriberHost(),
          { kind: 'single', type, schema, handler: traced, options },
          group,
        ),
      ),
    );
  }

  /**
   * Starts a subscriber that hands events over in batches.
   * @throws {ValidationError} for an unknown type
   */
  subscribeBatch<T extends EventTypeOf<S>>(
    type: T,
    handler: (payloads: PayloadOf<S, T>[], metas: EventMeta<T>[]) => unknown,
    options: BatchSubscribeOptions = {},
  ): Subscription {
    const schema = this.schemaOf(type);
    const group = options.group ?? this.service;
    return this.track(
      supervisedSubscriber(this, group, type, () =>
        startSubscriber(
          this.subscriberHost(),
          { kind: 'batch', type, schema, handler: handler as BatchHandler, options },
          group,
        ),
      ),
    );
  }

  /**
   * Opens the job queue `name` on this runtime's transport; closed during `shutdown()`.
   * @throws {ValidationError} when an option is out of range
   * @throws {ClosedError} after `shutdown()`
   * @example
   * const emails = rt.queue<{ to: string }>('emails', { concurrency: 10, maxAttempts: 5 });
   * emails.process(async (job) => mailer.send(job.data.to));
   * await emails.add('welcome', { to: 'ada@example.com' }, { priority: 'high' });
   */
  queue<D = unknown>(name: string, options: QueueOptions = {}): Queue<D> {
    this.assertOpen();
    const p = this.parts;
    const q = new Queue<D>(
      name,
      { observer: this.metrics.queueObserver, ...options },
      {
        transport: p.transport,
        clock: p.clock,
        logger: p.logger,
        inspect: p.inspect,
      },
    );
    this.queues.add(q);
    this.onShutdown(() => q.close());
    superviseQueue(this.supervisor, this.supervisor.freeId(`queue:${name}`), q);
    return q;
  }

  /** Every job queue opened on this runtime. */
  listQueues(): Queue[] {
    return [...this.queues];
  }

  /** Every live subscription of this runtime. */
  listSubscriptions(): Subscription[] {
    return [...this.subscriptions];
  }

  private schemaOf(type: string) {
    this.assertOpen();
    const schema = this.events.schema(type);
    if (!schema) throw unknownType(type);
    return schema;
  }

  protected subscriberHost() {
    const p = this.parts;
    return {
      transport: p.transport,
      logger: p.logger,
      clock: p.clock,
      instanceId: p.instanceId,
      inspect: p.inspect,
      observer: this.metrics.subscriberObserver,
    };
  }

  private track(sub: Subscription): Subscription {
    this.subscriptions.add(sub);
    const stop = sub.stop;
    return Object.assign(sub, {
      stop: async () => {
        await stop();
        this.subscriptions.delete(sub);
      },
    });
  }

  /**
   * Registers work to run during shutdown. Without `phase`, it runs after subscribers have drained
   * (last registered runs first); with one, alongside that phase's other steps.
   * @param phase - 'intake' | 'consumers' | 'jobs' | 'actors' | 'transport'
   */
  onShutdown(hook: () => Promise<void>, phase?: ShutdownPhase, name = `hook ${phase ?? 'jobs'}`): void {
    if (phase) this.phasedHooks.push({ phase, name, run: hook });
    else this.shutdownHooks.push(hook);
  }

  /**
   * Hosts any XState machine as a supervised actor: a failure restarts it with backoff
   * (one-for-one) until its restart policy gives up, which makes the runtime UNHEALTHY.
   * @throws {ValidationError} when an actor with the same id runs
   * @throws {ClosedError} after `shutdown()`
   * @example
   * const warmer = rt.spawn(cacheWarmer, { id: 'cache-warmer', input, restart: { maxRestarts: 5, withinMs: 60_000 } });
   */
  spawn<TLogic extends AnyActorLogic>(logic: TLogic, options: SpawnOptions<TLogic>): SupervisedActor<TLogic> {
    this.assertOpen();
    return spawnSupervised(this.supervisor, logic, options);
  }

  /**
   * Serves \`/health\`, \`/health/live\`, \`/health/ready\`, \`/metrics\` and the live \`/dashboard\` over
   * HTTP; closed at shutdown. The dashboard's actions need \`adminToken\` (or env \`BULWARK_ADMIN_TOKEN\`).
   * @throws when the port cannot be bound
   * @example
   * const server = await rt.listen({ port: 8080 });
   */
  async listen(options: ListenOptions = {}): Promise<HttpServer> {
    this.assertOpen();
    const dashboard = { adminToken: options.adminToken, logger: this.logger.child({ actor: 'dashboard' }) };
    const server = await serveRoutes(withDashboard(runtimeRoutes(this), this, dashboard), options);
    this.servers.add(server);
    this.health.start();
    return server;
  }

  /**
   * Lists the live instances of a service (this one by default) with their health; on NATS through
   * the `$SRV` micro protocol, so `nats micro ls` sees the same. Empty on the memory transport.
   * @example
   * const instances = await rt.discover('accounts');
   */
  discover(service = this.service, timeoutMs = 500): Promise<DiscoveredInstance[]> {
    return discover(this.transport, service, timeoutMs);
  }

  /** Ready for traffic: open, the transport connected, every subscriber consuming and every queue open (its worker taking jobs). */
  readiness(): Readiness {
    return readiness(this.closing !== undefined, this.transport, this.subscriptions, this.queues);
  }

  /** @internal the process signal handler's entry */
  async shutdownForSignal(signal: NodeJS.Signals): Promise<boolean> {
    this.logger.info({ signal }, 'signal received');
    await this.shutdown();
    return this.shutdownCompleted;
  }

  /**
   * Drains subscribers (waits for in-flight handlers), runs shutdown hooks, closes the transport.
   * Idempotent: a second call returns the same promise.
   */
  shutdown(): Promise<void> {
    return (this.closing ??= this.close());
  }

  private async close(): Promise<void> {
    this.logger.info('shutting down');
    const hooks = async (): Promise<void> => {
      for (const hook of this.shutdownHooks.reverse()) await hook();
    };
    const steps: ShutdownStep[] = [
      { phase: 'intake', name: 'discovery', run: async () => (await this.advertised)?.() },
      ...[...this.servers].map((s) => ({
        phase: 'intake' as const,
        name: `http ${s.url}`,
        run: () => s.close(),
      })),
      ...[...this.subscriptions].map((s) => ({
        phase: 'consumers' as const,
        name: `subscriber ${s.group}/${s.type} (${s.stats().inFlight} in flight)`,
        run: () => s.stop(),
      })),
      { phase: 'jobs', name: 'shutdown hooks and queues', run: hooks },
      ...this.phasedHooks,
      { phase: 'actors', name: 'supervised actors', run: () => this.supervisor.stopAll() },
      { phase: 'actors', name: 'breakers', run: () => this.breakerRegistry.close() },
      { phase: 'transport', name: 'transport (outbox flush)', run: () => this.transport.close() },
    ];
    const deadlineMs = this.parts.shutdownTimeoutMs ?? 30_000;
    const outcome = await runShutdown(steps, { deadlineMs, clock: this.parts.clock, logger: this.logger });
    this.shutdownCompleted = outcome.completed;
    this.health.stop();
    this.supervisor.dispose();
    this.releaseSignals?.();
    this.logger.info('shut down');
  }

  private assertOpen(): void {
    if (this.closing) throw new ClosedError(`runtime "${this.service}" is shut down`);
  }
}
