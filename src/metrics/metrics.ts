import { ErrorCode } from '../errors.js';
import { Counter, Gauge, Registry } from 'prom-client';
import type { SubscriberObserver } from '../actors/subscriber/stats.js';
import type { SupervisorNotice } from '../actors/supervisor/types.js';
import type { QueueObserver } from '../queue/types.js';
import type { TransportStatus } from '../transport/transport.js';
import type { CallTimings } from '../breaker/options.js';
import { SubscriberCounters } from './series.js';
import { BreakerSeries, type CountedBreaker } from './breakers.js';
import { readJobCounts, type CountedQueue } from './jobs.js';
import { JobCounters } from './job-series.js';
import type { BreakerMetrics, JobMetrics, JobOutcome, JobCounts } from './hooks.js';
const HEALTH_VALUE = { HEALTHY: 0, UNKNOWN: 1, DEGRADED: 2, UNHEALTHY: 3 } as const;

/** What the metrics read on each scrape. */
export interface MetricsSources {
  readonly service: string;
  readonly transportStatus: () => TransportStatus;
}

/**
 * One runtime's Prometheus metrics, in a registry of its own (several runtimes can share a
 * process). Every series carries `service`. Counters are fed by the runtime's hooks: the
 * subscriber observer, publish, the supervisor's notices, breakers and the job queue.
 * @example
 * const metrics = new RuntimeMetrics({ service: 'accounts', transportStatus: () => transport.status() });
 * res.end(await metrics.registry.metrics());
 */
export class RuntimeMetrics implements JobMetrics, BreakerMetrics {
  /** The prom-client registry; add your own metrics or `collectDefaultMetrics({ register })` to it. */
  readonly registry = new Registry();
  /** Plug into the subscriber host: received, handled, failed, dead-lettered and handler durations. */
  readonly subscriberObserver: SubscriberObserver;
  /** Per event type: [stored, failed], plain numbers read at scrape time. */
  private readonly publishes = new Map<string, number>();
  private readonly publishErrors = new Map<string, number>();
  private readonly subscribeErrors: Counter<'type' | 'group'>;
  private readonly restarts: Counter<'kind'>;
  private readonly actorsFailed: Counter<'kind'>;
  private readonly breakers: BreakerSeries;
  /** Give it to breakers (`BreakerRegistry`'s `timings`): a sample of their call durations. */
  readonly breakerTimings: CallTimings;
  /** The queues whose counts `bulwark_jobs` reads when scraped. */
  private queues: () => Iterable<CountedQueue> = () => [];
  private readonly jobs = new JobCounters();
  private readonly jobsAdded: Counter<'queue'>;
  private readonly jobCounts: Gauge<'queue' | 'state'>;
  private readonly health: Gauge;

  constructor(sources: MetricsSources) {
    const registers = [this.registry];
    this.registry.setDefaultLabels({ service: sources.service });
    const counter = <L extends string>(name: string, help: string, labelNames: L[]) =>
      new Counter<L>({ name, help, labelNames, registers });
    this.publishCounter();
    this.publishErrorCounter();
    this.subscribeErrors = counter('bulwark_subscribe_errors_total', 'Subscribers that could not start', [
      'type',
      'group',
    ]);
    this.restarts = counter('bulwark_actor_restarts_total', 'Supervised actors restarted after a failure', [
      'kind',
    ]);
    this.actorsFailed = counter('bulwark_actor_failures_total', 'Supervised actors given up on', ['kind']);
    this.jobs.register(this.registry);
    this.jobsAdded = counter('bulwark_jobs_added_total', 'Jobs added', ['queue']);
    const queues = () => this.queues();
    this.jobCounts = new Gauge({
      name: 'bulwark_jobs',
      help: 'Jobs by state, read from each queue when scraped',
      labelNames: ['queue', 'state'],
      registers,
      async collect() {
        for (const { queue, counts } of await readJobCounts(queues()))
          for (const [state, n] of Object.entries(counts)) this.set({ queue, state }, n);
      },
    });
    this.breakers = new BreakerSeries(this.registry);
    this.breakerTimings = this.breakers.durations;
    this.health = new Gauge({
      name: 'bulwark_health_status',
      help: '0 HEALTHY, 1 UNKNOWN, 2 DEGRADED, 3 UNHEALTHY',
      registers,
    });
    this.transportGauge(sources.transportStatus);
    const subscribers = new SubscriberCounters();
    subscribers.register(this.registry);
    this.subscriberObserver = subscribers;
  }

  private transportGauge(status: () => TransportStatus): void {
    const gauge = (name: string, help: string, value: (s: TransportStatus) => number): void =>
      void new Gauge({
        name,
        help,
        labelNames: ['transport'],
        registers: [this.registry],
        collect() {
          const s = status();
          this.set({ transport: s.kind }, value(s));
        },
      });
    gauge('bulwark_transport_connected', '1 while the transport is connected', (s) => (s.connected ? 1 : 0));
    gauge('bulwark_transport_storing', '1 while publishes are being stored', (s) => (s.storing ? 1 : 0));
    gauge(
      'bulwark_outbox_events',
      'Publishes waiting in the outbox for the broker',
      (s) => s.outboxSize ?? 0,
    );
  }

  /** Counts a stored publish. */
  onPublished(type: string): void {
    this.publishes.set(type, (this.publishes.get(type) ?? 0) + 1);
  }

  /** Counts a failed publish, by why it failed. */
  onPublishError(type: string, err: unknown): void {
    const key = `${type}\u0000${publishErrorReason(err)}`;
    this.publishErrors.set(key, (this.publishErrors.get(key) ?? 0) + 1);
  }

  // Counted in plain maps on the publish path, read into the series when scraped.
  private publishCounter(): void {
    const publishes = this.publishes;
    new Counter({
      name: 'bulwark_events_published_total',
      help: 'Events stored by the transport',
      labelNames: ['type'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [type, n] of publishes) this.inc({ type }, n);
      },
    });
  }

  private publishErrorCounter(): void {
    const errors = this.publishErrors;
    new Counter({
      name: 'bulwark_publish_errors_total',
      help: 'Publishes that failed, by reason: validation, too_large, backpressure, timeout, closed, transport',
      labelNames: ['type', 'reason'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [key, n] of errors) {
          const [type, reason] = key.split('\u0000') as [string, string];
          this.inc({ type, reason }, n);
        }
      },
    });
  }

  /** Counts a subscriber that could not start. */
  onSubscribeError(type: string, group: string): void {
    this.subscribeErrors.inc({ type, group });
  }

  /** Feeds restarts and give-ups from the supervisor. */
  onSupervisorNotice(notice: SupervisorNotice): void {
    if (notice.type === 'restarted') this.restarts.inc({ kind: notice.kind });
    else this.actorsFailed.inc({ kind: notice.kind });
  }

  /** Records the last health status. */
  onHealth(status: keyof typeof HEALTH_VALUE): void {
    this.health.set(HEALTH_VALUE[status]);
  }

  trackBreaker(breaker: CountedBreaker): () => void {
    return this.breakers.track(breaker);
  }

  /**
   * Where `bulwark_jobs{queue,state}` reads its values on each scrape: every queue's `counts()`
   * (a queue that does not answer in time keeps its last values).
   */
  watchQueues(queues: () => Iterable<CountedQueue>): void {
    this.queues = queues;
  }

  recordJob(queue: string, outcome: JobOutcome, durationMs: number): void {
    this.jobs.record(queue, outcome, durationMs);
  }

  recordJobCounts(queue: string, counts: JobCounts): void {
    for (const [state, n] of Object.entries(counts)) this.jobCounts.set({ queue, state }, n);
  }

  /** Plug into a queue's `observer` option: adds, completions, failures, dead jobs and durations. */
  readonly queueObserver: QueueObserver = {
    onAdded: (queue, count) => this.jobsAdded.inc({ queue }, count),
    onCompleted: (queue, ms) => this.recordJob(queue, 'completed', ms),
    onFailed: (queue, ms) => this.recordJob(queue, 'failed', ms),
    onDead: (queue) => this.jobs.record(queue, 'dead'),
  };

  /** The Prometheus text exposition of every metric. */
  text(): Promise<string> {
    return this.registry.metrics();
  }
}

/** Why a publish failed, as the `reason` label says it. */
function publishErrorReason(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  switch (code) {
    case ErrorCode.validation:
      return 'validation';
    case ErrorCode.tooLarge:
      return 'too_large';
    case ErrorCode.backpressure:
      return 'backpressure';
    case ErrorCode.publishTimeout:
    case ErrorCode.timeout:
      return 'timeout';
    case ErrorCode.closed:
      return 'closed';
    default:
      return 'transport';
  }
}
