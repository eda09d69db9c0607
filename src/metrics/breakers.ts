import { Counter, Gauge, type Metric, type Registry } from 'prom-client';
import type { CallCounts, CallTimings } from '../breaker/options.js';
import type { BreakerLike } from '../health/types.js';
import { DurationSeries, plainHistogram } from './plain-histogram.js';

const STATE_VALUE = { CLOSED: 0, HALF_OPEN: 1, OPEN: 2 } as const;
type PublicState = keyof typeof STATE_VALUE;

/** Upper bounds (seconds) of the breaker call duration buckets. */
export const BREAKER_CALL_BUCKETS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;

/** A breaker as its metrics read it: bulwark's `Breaker` adds its call counters without allocating. */
export interface CountedBreaker extends BreakerLike {
  addCounts?(into: CallCounts): void;
}

/**
 * Call durations as plain numbers: breakers report a sample of their calls, prom-client reads the
 * buckets at scrape time.
 */
export class CallDurations implements CallTimings {
  private readonly series = { labels: {}, durations: new DurationSeries(BREAKER_CALL_BUCKETS) };

  observe(ms: number): void {
    this.series.durations.observe(ms / 1_000);
  }

  /** A prom-client metric of its own (`get()` reads the buckets), to register in a registry. */
  metric(): Metric {
    return plainHistogram(
      'bulwark_breaker_call_duration_seconds',
      'Duration of calls through circuit breakers, every breaker together (a sample: one call in 16)',
      () => [this.series],
    );
  }
}

/**
 * Circuit breaker series, priced for 100,000 breakers: a scrape renders per-breaker series only
 * for breakers that have left CLOSED at least once; every other figure adds up all breakers
 * (`bulwark_breakers{state}`, `bulwark_breaker_calls_total{outcome}`, the duration histogram).
 * Calls only add to plain numbers in the breaker; this reads them when scraped.
 */
export class BreakerSeries {
  /** Fed by every breaker the runtime makes. */
  readonly durations = new CallDurations();
  private readonly all = new Set<CountedBreaker>();
  /** Breakers that have left CLOSED at least once, by name: they have series of their own. */
  private readonly noted = new Map<string, CountedBreaker>();
  private readonly counts: Record<PublicState, number> = { CLOSED: 0, HALF_OPEN: 0, OPEN: 0 };
  private readonly transitions: Counter<'breaker' | 'from' | 'to'>;
  private readonly state: Gauge<'breaker'>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.transitions = new Counter({
      name: 'bulwark_breaker_transitions_total',
      help: 'Circuit breaker state changes',
      labelNames: ['breaker', 'from', 'to'],
      registers,
    });
    // Set as states change, not read per scrape: a scrape costs what changed, not how many exist.
    this.state = new Gauge({
      name: 'bulwark_breaker_state',
      help: 'Circuit breaker state, for breakers that have left CLOSED at least once: 0 CLOSED, 1 HALF_OPEN, 2 OPEN',
      labelNames: ['breaker'],
      registers,
    });
    this.countGauge(registry);
    this.callCounter(registry);
    this.failureRateGauge(registry);
    registry.registerMetric(this.durations.metric());
  }

  /** Tracks a breaker's state and calls. @returns a function that stops tracking it */
  track(breaker: CountedBreaker): () => void {
    const { name, state } = breaker.stats();
    let current = state;
    this.counts[current]++;
    this.all.add(breaker);
    if (current !== 'CLOSED') this.note(name, breaker, current);
    const off = breaker.on?.('stateChange', ({ from, to }) => {
      this.transitions.inc({ breaker: name, from, to });
      this.counts[current]--;
      this.counts[(current = to as PublicState)]++;
      this.note(name, breaker, current);
    });
    return () => {
      off?.();
      this.counts[current]--;
      this.all.delete(breaker);
      if (this.noted.get(name) === breaker) this.noted.delete(name);
    };
  }

  private note(name: string, breaker: CountedBreaker, state: PublicState): void {
    this.noted.set(name, breaker);
    this.state.set({ breaker: name }, STATE_VALUE[state]);
  }

  private countGauge(registry: Registry): void {
    const counts = this.counts;
    new Gauge({
      name: 'bulwark_breakers',
      help: 'Circuit breakers by state',
      labelNames: ['state'],
      registers: [registry],
      collect() {
        for (const [state, n] of Object.entries(counts)) this.set({ state }, n);
      },
    });
  }

  private callCounter(registry: Registry): void {
    const all = this.all;
    new Counter({
      name: 'bulwark_breaker_calls_total',
      help: 'Calls through circuit breakers, every breaker together, by outcome: success, failure, timeout, rejected; slow counts calls also counted as a success or a failure',
      labelNames: ['outcome'],
      registers: [registry],
      collect() {
        const sum: CallCounts = { successes: 0, failures: 0, timeouts: 0, rejections: 0, slow: 0 };
        for (const breaker of all) breaker.addCounts?.(sum);
        this.reset();
        this.inc({ outcome: 'success' }, sum.successes);
        this.inc({ outcome: 'failure' }, sum.failures);
        this.inc({ outcome: 'timeout' }, sum.timeouts);
        this.inc({ outcome: 'rejected' }, sum.rejections);
        this.inc({ outcome: 'slow' }, sum.slow);
      },
    });
  }

  private failureRateGauge(registry: Registry): void {
    const noted = this.noted;
    new Gauge({
      name: 'bulwark_breaker_failure_rate',
      help: 'Failure rate over the window in [0, 1], for breakers that have left CLOSED at least once',
      labelNames: ['breaker'],
      registers: [registry],
      collect() {
        this.reset();
        for (const [name, breaker] of noted) this.set({ breaker: name }, breaker.stats().failureRate);
      },
    });
  }
}
