import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { SubscriberObserver } from '../actors/subscriber/stats.js';
import type { SupervisorNotice } from '../actors/supervisor/types.js';
import type { BreakerLike } from '../health/types.js';
import type { QueueObserver } from '../queue/types.js';
import type { TransportStatus } from '../transport/transport.js';
import { SubscriberCounters } from './series.js';
import type { BreakerMetrics, JobMetrics, JobOutcome, JobCounts } from './hooks.js';

const STATE_VALUE = { CLOSED: 0, HALF_OPEN: 1, OPEN: 2 } as const;
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
  private readonly publishes = new Map<string, [number, number]>();
  private readonly subscribeErrors: Counter<'type' | 'group'>;
  private readonly restarts: Counter<'kind'>;
  private readonly actorsFailed: Counter<'kind'>;
  private readonly breakerTransitions: Counter<'breaker' | 'from' | 'to'>;
  private readonly breakers = new Map<string, BreakerLike>();
  private readonly jobs: Counter<'queue' | 'outcome'>;
  private readonly jobsAdded: Counter<'queue'>;
  private readonly jobDuration: Histogram<'queue' | 'outcome'>;
  private readonly jobCounts: Gauge<'queue' | 'state'>;
  private readonly health: Gauge;

  constructor(sources: MetricsSources) {
    const registers = [this.registry];
    this.registry.setDefaultLabels({ service: sources.service });
    const counter = <L extends string>(name: string, help: string, labelNames: L[]) =>
      new Counter<L>({ name, help, labelNames, registers });
    this.publishCounter('bulwark_events_published_total', 'Events stored by the transport', 0);
    this.publishCounter('bulwark_publish_errors_total', 'Publishes that failed', 1);
    this.subscribeErrors = counter('bulwark_subscribe_errors_total', 'Subscribers that could not start', [
      'type',
      'group',
    ]);
    this.restarts = counter('bulwark_actor_restarts_total', 'Supervised actors restarted after a failure', [
      'kind',
    ]);
    this.actorsFailed = counter('bulwark_actor_failures_total', 'Supervised actors given up on', ['kind']);
    this.breakerTransitions = counter('bulwark_breaker_transitions_total', 'Circuit breaker state changes', [
      'breaker',
      'from',
      'to',
    ]);
    this.jobs = counter('bulwark_jobs_total', 'Job attempts settled, by outcome', ['queue', 'outcome']);
    this.jobsAdded = counter('bulwark_jobs_added_total', 'Jobs added', ['queue']);
    this.jobDuration = new Histogram({
      name: 'bulwark_job_duration_seconds',
      help: 'Job run time, by outcome',
      labelNames: ['queue', 'outcome'],
      buckets: [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60],
      registers,
    });
    this.jobCounts = new Gauge({
      name: 'bulwark_jobs',
      help: 'Jobs by state',
      labelNames: ['queue', 'state'],
      registers,
    });
    this.breakerStateGauge();
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
    new Gauge({
      name: 'bulwark_transport_connected',
      help: '1 while the transport is connected',
      labelNames: ['transport'],
      registers: [this.registry],
      collect() {
        const s = status();
        this.set({ transport: s.kind }, s.connected ? 1 : 0);
      },
    });
  }

  private breakerStateGauge(): void {
    const breakers = this.breakers;
    new Gauge({
      name: 'bulwark_breaker_state',
      help: 'Circuit breaker state: 0 CLOSED, 1 HALF_OPEN, 2 OPEN',
      labelNames: ['breaker'],
      registers: [this.registry],
      collect() {
        for (const [name, b] of breakers) this.set({ breaker: name }, STATE_VALUE[b.stats().state]);
      },
    });
  }

  /** Counts a stored publish. */
  onPublished(type: string): void {
    const n = this.publishes.get(type);
    if (n) n[0]++;
    else this.publishes.set(type, [1, 0]);
  }

  /** Counts a failed publish. */
  onPublishError(type: string): void {
    const n = this.publishes.get(type);
    if (n) n[1]++;
    else this.publishes.set(type, [0, 1]);
  }

  private publishCounter(name: string, help: string, index: 0 | 1): void {
    const publishes = this.publishes;
    new Counter({
      name,
      help,
      labelNames: ['type'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [type, n] of publishes) this.inc({ type }, n[index]);
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

  trackBreaker(breaker: BreakerLike): () => void {
    const name = breaker.stats().name;
    this.breakers.set(name, breaker);
    const off = breaker.on?.('stateChange', ({ from, to }) =>
      this.breakerTransitions.inc({ breaker: name, from, to }),
    );
    return () => {
      off?.();
      this.breakers.delete(name);
    };
  }

  recordJob(queue: string, outcome: JobOutcome, durationMs: number): void {
    this.jobs.inc({ queue, outcome });
    this.jobDuration.observe({ queue, outcome }, durationMs / 1_000);
  }

  recordJobCounts(queue: string, counts: JobCounts): void {
    for (const [state, n] of Object.entries(counts)) this.jobCounts.set({ queue, state }, n);
  }

  /** Plug into a queue's `observer` option: adds, completions, failures, dead jobs and durations. */
  readonly queueObserver: QueueObserver = {
    onAdded: (queue, count) => this.jobsAdded.inc({ queue }, count),
    onCompleted: (queue, ms) => this.recordJob(queue, 'completed', ms),
    onFailed: (queue, ms) => this.recordJob(queue, 'failed', ms),
    onDead: (queue) => this.jobs.inc({ queue, outcome: 'dead' }),
  };

  /** The Prometheus text exposition of every metric. */
  text(): Promise<string> {
    return this.registry.metrics();
  }
}
