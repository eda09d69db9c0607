import type { AnyActorLogic } from 'xstate';
import type { Env } from '../env.js';
import { ClosedError } from '../errors.js';
import type {
  EventRegistry,
  EventSchemas,
  EventTypeOf,
  PayloadInput,
  PayloadOf,
} from '../events/registry.js';
import type { SubscribePattern, TypesMatching } from '../events/registry.js';
import { payloadDecoder, type PayloadDecoder } from '../events/versions.js';
import type { Logger } from '../logging.js';
import type { BatchHandler } from '../actors/subscriber/batch-pipeline.js';
import type { EventMeta } from '../actors/subscriber/meta.js';
import type { Handler } from '../actors/subscriber/pipeline.js';
import {
  type BatchSubscribeOptions,
  type SubscribeOptions,
  type Subscription,
} from '../actors/subscriber/subscriber.actor.js';
import type { DeadLetterStore } from '../transport/dead-letters.js';
import type { PublishReceipt, Transport } from '../transport/transport.js';
import type { PublishOptions } from './envelope.js';
import { EventPublisher, type PublishItem } from './publisher.js';
import { BreakerRegistry, type BreakerDirectory } from '../breaker/registry.js';
import type { Breaker } from '../breaker/breaker.js';
import type { BreakerOptions } from '../breaker/options.js';
import { Queue } from '../queue/queue.js';
import type { QueueOptions } from '../queue/options.js';
import {
  spawnSupervised,
  type SpawnOptions,
  type SupervisedActor,
} from '../actors/supervisor/hosted-actor.js';
import { superviseQueue } from '../queue/supervised.js';
import { trackBreaker } from '../breaker/supervised.js';
import { sharedBreakerBucket } from '../breaker/shared-format.js';
import type { Supervisor } from '../actors/supervisor/supervisor.js';
import type { ActorInfo } from '../actors/supervisor/types.js';
import type { HealthMonitor } from '../health/health.js';
import type { RuntimeMetrics } from '../metrics/metrics.js';
import { runtimeRoutes } from '../http/routes.js';
import { withDashboard } from '../http/dashboard/routes.js';
import {
  mountRoutes,
  type HandlerOptions,
  type HttpServer,
  type ListenOptions,
  type RequestHandler,
} from '../http/server.js';
import { isValidationError } from '../errors.js';
import { serveWithGateway } from '../http/gateway-server.js';
import { observe } from './observability.js';
import { advertise, discover } from '../health/presence.js';
import { readiness, type Readiness } from '../health/readiness.js';
import { RuntimeSubscribers } from './subscribers.js';
import type { DiscoveredInstance } from '../transport/presence.js';
import { runShutdown, ShutdownHooks, type ShutdownPhase, type ShutdownStep } from './shutdown.js';
import { handleSignals } from './signals.js';
import {
  createRateLimiter,
  type AnyRateLimiterOptions,
  type SharedRateLimiter,
  type SharedRateLimiterOptions,
} from '../policy/shared-rate-limiter.js';
import type { RateLimiter, RateLimiterOptions } from '../policy/rate-limiter.js';
import { RuntimeRpc } from '../rpc/rpc.js';
import type { Endpoint } from '../rpc/endpoint.actor.js';
import type { HandleOptions, RequestOptions } from '../rpc/options.js';
import type { AnyEndpointHandler } from '../rpc/dispatch.js';
import type * as Rpc from '../rpc/endpoints.js';
import { withHistory, type RuntimeEvents } from '../events/history.js';
import { REDRIVE_GROUP_HEADER } from '../transport/transport.js';
import { Locks } from '../lock/locks.js';
import { locksBucket, type LockOptions } from '../lock/lease.js';
import type { Lock } from '../lock/lock.js';

/** Everything a runtime is made of; built by `createRuntime`. */
export interface RuntimeParts<S extends EventSchemas> extends Env {
  readonly service: string;
  readonly version: string;
  readonly events: EventRegistry<S>;
  readonly transport: Transport;
  readonly instanceId: string;
  /** After this long, shutdown gives up on what is left and logs it. @default 30_000 */
  readonly shutdownTimeoutMs?: number;
  /** Shut down gracefully on SIGTERM / SIGINT, then exit. @default true */
  readonly handleSignals?: boolean;
  /** Events not stored for this long make health UNHEALTHY. @default 30_000 */
  readonly transportUnhealthyAfterMs?: number;
}

/** `rt.actors`: the runtime's live actors. */
export interface ActorDirectory {
  /** @returns every live actor, or those of one kind (`'job'`, `'breaker'`, `'subscriber'`, …) */
  list(filter?: { readonly kind?: string }): ActorInfo[];
}

/**
 * A bulwark runtime: publishes typed events, hosts subscriber actors, and shuts them down in order.
 * Made by `createRuntime`.
 */
export class Runtime<S extends EventSchemas = EventSchemas> {
  readonly service: string;
  /** The event registry, plus `read(typeOrPattern, { from, to, limit })`: stored history, without a group. */
  readonly events: RuntimeEvents<S>;
  readonly transport: Transport;
  readonly logger: Logger;
  /** The dead-letter store of this runtime's transport. */
  readonly deadLetters: DeadLetterStore;
  /** This runtime's circuit breakers: `rt.breakers.stats()` gives every breaker's stats by name. */
  readonly breakers: BreakerDirectory;
  private readonly breakerRegistry: BreakerRegistry;
  private readonly publisher: EventPublisher;
  private readonly subscribers: RuntimeSubscribers;
  private readonly queues = new Set<Queue>();
  private readonly rpc: RuntimeRpc;
  private readonly locks: Locks;
  /** Supervises every actor of this runtime: subscribers, queues, `rt.spawn` machines; tracks its breakers. */
  readonly supervisor: Supervisor;
  /** Checks, registered services, overrides and alerts: `rt.health.report()`. */
  readonly health: HealthMonitor;
  /**
   * The runtime's live actors: `rt.actors.list({ kind: 'job' })` gives each one's id, kind, machine id
   * and state (the supervisor, subscribers, breakers, queues, spawned machines, endpoints, the
   * job actors this runtime's workers hold, and the scheduler actors of the queues it works).
   */
  readonly actors: ActorDirectory = {
    list: (filter = {}) => [
      ...this.supervisor.actors(filter.kind),
      ...(filter.kind === undefined || filter.kind === 'job'
        ? [...this.queues].flatMap((q) => q.jobActors())
        : []),
      ...(filter.kind === undefined || filter.kind === 'scheduler'
        ? [...this.queues].flatMap((q) => q.schedulerActors())
        : []),
    ],
  };
  /** This runtime's Prometheus registry and the hooks that feed it. */
  readonly metrics: RuntimeMetrics;
  /**
   * The built-in routes for a server of your own: `rt.http.handler(options?)` is a node:http
   * `(req, res)` handler, and express/connect middleware (other paths go on to `next`). It serves
   * `/health`, `/health/live`, `/health/ready`, their Kubernetes names `/healthz`, `/livez`,
   * `/readyz`, and `/metrics`, with `rt.listen`'s token and `Host` checks.
   * @example
   * app.use(rt.http.handler({ readToken: process.env.METRICS_TOKEN }));
   */
  readonly http: { handler(options?: HandlerOptions): RequestHandler } = {
    handler: (options) => {
      this.health.start();
      return mountRoutes(runtimeRoutes(this), options);
    },
  };
  private readonly hooks = new ShutdownHooks();
  private readonly servers = new Set<HttpServer>();
  private readonly releaseSignals: (() => void) | undefined;
  private shutdownCompleted = true;
  private readonly advertised: Promise<(() => Promise<void>) | undefined>;
  private closing: Promise<void> | undefined;

  constructor(protected readonly parts: RuntimeParts<S>) {
    this.service = parts.service;
    const t = parts.transport;
    this.events = withHistory(
      parts.events,
      t.read && { read: (r) => t.read!(r), copyHeader: REDRIVE_GROUP_HEADER },
    );
    this.transport = parts.transport;
    this.logger = parts.logger;
    this.deadLetters = parts.transport.deadLetters;
    ({ supervisor: this.supervisor, health: this.health, metrics: this.metrics } = observe(parts));
    this.publisher = new EventPublisher(
      parts.service,
      parts.events,
      parts.transport,
      this.metrics,
      parts.logger,
    );
    const { transport, logger, clock, instanceId, inspect } = parts;
    this.subscribers = new RuntimeSubscribers(
      { transport, logger, clock, instanceId, inspect, observer: this.metrics.subscriberObserver },
      this,
      parts.service,
    );
    this.releaseSignals = parts.handleSignals === false ? undefined : handleSignals(this);
    this.advertised = advertise(parts, this.health);
    this.breakerRegistry = new BreakerRegistry({
      onCreate: (b, o) => {
        this.metrics.trackBreaker(b);
        trackBreaker(this.supervisor, b, o?.health !== false);
      },
      onProtected: (b, adapter) => this.registerProtected(b, adapter),
      timings: this.metrics.breakerTimings,
      watchCheck: (check, listener) => {
        // Checks run on the monitor's loop: a breaker that follows one needs it running.
        this.health.start();
        return this.health.watchCheck(check, (status) => listener(status !== 'UNHEALTHY'));
      },
      service: parts.service,
      logger: parts.logger.child({ actor: 'breaker' }),
      clock: parts.clock,
      ...(parts.inspect && { inspect: parts.inspect }),
      keyValue: (bucket, options) => parts.transport.keyValue(bucket, options),
      bucket: sharedBreakerBucket(parts.transport.namespace),
    });
    this.breakers = this.breakerRegistry.directory;
    this.metrics.watchQueues(() => this.queues);
    const breaker = (name: string, o: BreakerOptions): Breaker => this.breakerRegistry.get(name, o);
    this.rpc = new RuntimeRpc({ ...parts, supervisor: this.supervisor, breaker });
    const lockLogger = parts.logger.child({ actor: 'lock' });
    const locks = () => t.keyValue(locksBucket(t.namespace));
    this.locks = new Locks({ clock: parts.clock, logger: lockLogger, keyValue: locks });
    this.hooks.add(() => this.locks.close(), 'actors', 'locks');
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

  /** A protected adapter counts in health as a service named after it, its breaker's state deciding its status. */
  private registerProtected(breaker: Breaker, adapter: string): void {
    try {
      this.health.registerService({
        id: `${adapter}:${breaker.name}`,
        name: adapter,
        circuitBreaker: breaker,
        tags: ['protected'],
      });
    } catch (err) {
      // The same adapter protected again by the same breaker: registered already.
      if (!isValidationError(err)) throw err;
    }
  }

  /**
   * A token-bucket rate limiter: with `shared`, one budget across every instance (any service)
   * that names it, kept in this runtime's transport's KV bucket and limiting locally while that is
   * unreachable; without, this process's own. A new limiter each call (a shared one's budget
   * lives in the bucket).
   * @throws {ValidationError} when an option is out of range
   * @throws {ClosedError} after `shutdown()`
   * @example
   * const stripeLimit = rt.rateLimiter({ limit: 100, intervalMs: 1_000, shared: 'stripe' });
   * await stripeLimit.execute((signal) => fetch(url, { signal }));
   */
  rateLimiter(options: SharedRateLimiterOptions): SharedRateLimiter;
  rateLimiter(options: RateLimiterOptions): RateLimiter;
  rateLimiter(options: AnyRateLimiterOptions): RateLimiter | SharedRateLimiter {
    this.assertOpen();
    const { clock, logger, transport } = this.parts;
    return createRateLimiter(options, { clock, logger, keyValue: (bucket) => transport.keyValue(bucket) });
  }

  /**
   * Takes the distributed lock `name`: one holder across every instance on this transport (NATS: a
   * KV bucket with compare-and-set; memory: this process). The lease lasts `ttlMs`, renews itself
   * every third of it while held, and expires `ttlMs` after its holder dies or stalls.
   * @returns the lock (`token`, `signal`, `extend`, `release`), or null when another holder kept it for `waitMs`
   * @throws {ValidationError} for a bad name or options
   * @throws {ClosedError} after `shutdown()`
   * @example
   * const lock = await rt.lock('nightly-report', { ttlMs: 30_000 });
   * if (lock) try { await report(lock.signal, lock.token); } finally { await lock.release(); }
   */
  lock(name: string, options: LockOptions): Promise<Lock | null> {
    if (this.closing) return Promise.reject(this.closedError());
    return this.locks.acquire(name, options);
  }

  /**
   * Runs `fn` holding the lock `name` (see {@link Runtime.lock}), then releases it.
   * @returns what `fn` returned, or null when another holder kept the lock for `waitMs`
   * @throws what `fn` threw; {@link LockLostError} when the lease was lost while `fn` ran
   * @example
   * await rt.withLock('nightly-report', async (signal, token) => report(signal, token), { ttlMs: 30_000 });
   */
  withLock<T>(
    name: string,
    fn: (signal: AbortSignal, token: number) => T | Promise<T>,
    options: LockOptions,
  ): Promise<T | null> {
    if (this.closing) return Promise.reject(this.closedError());
    return this.locks.withLock(name, fn, options);
  }

  /**
   * Validates the payload, wraps it in a CloudEvent and resolves once the transport has stored it.
   * @returns the event id, its sequence, and `duplicate: true` when the id was already stored
   * @throws {ValidationError} for an invalid payload or an unknown type; nothing is published
   * @throws {BackpressureError} when the broker is unreachable and the outbox is full
   * @example
   * await rt.publish('user.created', { id: '1', username: 'ada', role: 'user' });
   */
  publish<T extends EventTypeOf<S>>(
    type: T,
    payload: PayloadInput<S, T>,
    options?: PublishOptions,
  ): Promise<PublishReceipt> {
    // Not async: the publisher's promise is returned as it is, without another await on the hot path.
    if (this.closing) return Promise.reject(this.closedError());
    return this.publisher.publish(type, payload, options);
  }

  /**
   * Publishes many events pipelined; every payload is validated before any is sent.
   * @throws {ValidationError} naming the first invalid item; nothing is published
   */
  publishMany(items: readonly PublishItem<S>[]): Promise<PublishReceipt[]> {
    if (this.closing) return Promise.reject(this.closedError());
    return this.publisher.publishMany(items);
  }

  /**
   * Publishes and forgets: returns at once, never throws and never rejects, even for an invalid
   * payload or after `shutdown()`. What cannot be published is logged (with `err`) and counted in
   * `bulwark_publish_errors_total{type,reason}`.
   * @example
   * rt.emit('user.created', { id: '1', username: 'ada', role: 'user' });
   */
  emit<T extends EventTypeOf<S>>(type: T, payload: PayloadInput<S, T>, options?: PublishOptions): void {
    if (this.closing) return this.publisher.emitRefused(type, this.closedError());
    this.publisher.emit(type, payload, options);
  }

  /**
   * Starts a subscriber actor for one event type, or for every type a pattern matches (`order.*`:
   * one token, `order.>`: the rest); the payload is then the union of theirs. Each event is
   * validated (and upcast to its newest version) by its own type's schema.
   * @throws {ValidationError} for an unknown type, or a pattern that is malformed or matches no type
   * @example
   * const sub = rt.subscribe('user.created', async (user, meta) => mailer.welcome(user), { maxAttempts: 4 });
   * await sub.ready;
   */
  subscribe<P extends SubscribePattern<S>>(
    pattern: P,
    handler: (
      payload: PayloadOf<S, TypesMatching<S, NoInfer<P>>>,
      meta: EventMeta<TypesMatching<S, NoInfer<P>>>,
    ) => unknown,
    options: SubscribeOptions<PayloadOf<S, TypesMatching<S, NoInfer<P>>>> = {},
  ): Subscription {
    const decode = this.decoderOf(pattern);
    return this.subscribers.start({
      kind: 'single',
      type: pattern,
      decode,
      handler: handler as Handler,
      options,
    });
  }

  /**
   * Starts a subscriber that hands events over in batches; takes a type or a pattern, as `subscribe`.
   * @throws {ValidationError} for an unknown type, or a pattern that is malformed or matches no type
   */
  subscribeBatch<P extends SubscribePattern<S>>(
    pattern: P,
    handler: (
      payloads: PayloadOf<S, TypesMatching<S, NoInfer<P>>>[],
      metas: EventMeta<TypesMatching<S, NoInfer<P>>>[],
    ) => unknown,
    options: BatchSubscribeOptions = {},
  ): Subscription {
    const decode = this.decoderOf(pattern);
    return this.subscribers.start({
      kind: 'batch',
      type: pattern,
      decode,
      handler: handler as BatchHandler,
      options,
    });
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
        queueNamed: (other) => this.queueNamed(other),
      },
    );
    this.queues.add(q);
    superviseQueue(this.supervisor, this.supervisor.freeId(`queue:${name}`), q);
    return q;
  }

  /** An open queue object named `name`, or a new one with default options: flows reach other queues. */
  private queueNamed(name: string): Queue {
    for (const q of this.queues) if (q.name === name && !['closing', 'closed'].includes(q.status())) return q;
    return this.queue(name);
  }

  /** Every job queue opened on this runtime. */
  listQueues(): Queue[] {
    return [...this.queues];
  }

  /**
   * Serves endpoint `name` of `api` on this instance (a supervised endpoint actor; instances share
   * the load); listed with its schemas in discovery. Bad requests are answered 400, throws 500.
   * @throws {ValidationError} for an unknown endpoint, one served already, or bad options
   * @throws {ClosedError} after `shutdown()`
   * @example
   * rt.handle(api, 'orders.get', async (req, meta) => ({ id: req.id, status: 'paid' }), { concurrency: 32 });
   */
  handle<E extends Rpc.EndpointSchemas, N extends Rpc.EndpointNameOf<E>>(
    api: Rpc.EndpointApi<E>,
    name: N,
    handler: Rpc.EndpointHandler<E, N>,
    options?: HandleOptions,
  ): Endpoint {
    this.assertOpen();
    return this.rpc.handle(api, name, handler as AnyEndpointHandler, options);
  }

  /**
   * Asks endpoint `name` of `api`: validates the request, sends it with its deadline through the
   * endpoint's breaker (`rpc:<name>`), and validates the response.
   * @throws {ValidationError} for an invalid request (nothing is sent) or response
   * @throws {RemoteError} (`code`), {@link NoRespondersError}, {@link TimeoutError}, {@link CircuitOpenError}
   * @example
   * const order = await rt.request(api, 'orders.get', { id: '1' }, { timeoutMs: 2_000 });
   */
  request<E extends Rpc.EndpointSchemas, N extends Rpc.EndpointNameOf<E>>(
    api: Rpc.EndpointApi<E>,
    name: N,
    request: Rpc.RequestInput<E, N>,
    options?: RequestOptions,
  ): Promise<Rpc.ResponseOf<E, N>> {
    if (this.closing) return Promise.reject(this.closedError());
    return this.rpc.request(api, name, request, options) as Promise<Rpc.ResponseOf<E, N>>;
  }

  /** Every endpoint this runtime serves. */
  listEndpoints(): Endpoint[] {
    return this.rpc.list();
  }

  /** Every live subscription of this runtime. */
  listSubscriptions(): Subscription[] {
    return this.subscribers.list();
  }

  private decoderOf(pattern: string): PayloadDecoder {
    this.assertOpen();
    return payloadDecoder(this.events, pattern);
  }

  /**
   * Registers work to run during shutdown. Without `phase`, it runs after subscribers have drained
   * (last registered runs first); with one, alongside that phase's other steps.
   * @param phase - 'intake' | 'consumers' | 'jobs' | 'actors' | 'transport'
   */
  onShutdown(hook: () => Promise<void>, phase?: ShutdownPhase, name?: string): void {
    this.hooks.add(hook, phase, name);
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
   * HTTP; closed at shutdown. \`/metrics\` and the dashboard's data need \`readToken\` (env
   * \`BULWARK_READ_TOKEN\`) when one is set; the dashboard's actions need \`adminToken\` (env
   * \`BULWARK_ADMIN_TOKEN\`), which grants read too. Health probes are open. With \`gateway\`, browsers
   * subscribe to events over WebSocket (\`/events\`) or SSE (\`/events/sse\`): docs/gateway.md.
   * @throws {ValidationError} for bad gateway options
   * @throws when the port cannot be bound
   * @example
   * const server = await rt.listen({ port: 8080 });
   */
  async listen<C = unknown>(options: ListenOptions<C> = {}): Promise<HttpServer> {
    this.assertOpen();
    const dashboard = { ...options, logger: this.logger.child({ actor: 'dashboard' }) };
    const http = { ...options, logger: this.logger.child({ actor: 'http' }) };
    const { transport, events, parts, logger } = this;
    const gateway = logger.child({ actor: 'gateway' });
    const source = { transport, types: events.types, instanceId: parts.instanceId, logger: gateway };
    const server = await serveWithGateway(withDashboard(runtimeRoutes(this), this, dashboard), http, source);
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
    const { closing, transport, queues } = this;
    return readiness(closing !== undefined, transport, this.subscribers.list(), queues, this.rpc.list());
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
    const steps: ShutdownStep[] = [
      { phase: 'intake', name: 'discovery', run: async () => (await this.advertised)?.() },
      ...[...this.servers].map((s) => ({
        phase: 'intake' as const,
        name: `http ${s.url}`,
        run: () => s.close(),
      })),
      ...this.rpc.stopSteps(),
      ...this.subscribers.stopSteps(),
      ...[...this.queues].map((q) => ({
        phase: 'jobs' as const,
        name: `queue ${q.name}`,
        run: () => q.close(),
      })),
      ...this.hooks.steps(),
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
    if (this.closing) throw this.closedError();
  }

  private closedError(): ClosedError {
    return new ClosedError(`runtime "${this.service}" is shut down`);
  }
}
