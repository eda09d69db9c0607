import { Counter, type Registry } from 'prom-client';
import type { SubscriberObserver } from '../actors/subscriber/stats.js';
import { DurationSeries, plainHistogram } from './plain-histogram.js';

/** Upper bounds (seconds) of the handler duration buckets. */
export const HANDLER_BUCKETS = [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30] as const;

/**
 * One subscription's counters as plain numbers: the hot path adds to them, prom-client reads them
 * at scrape time. A labelled prom-client `inc()` / `observe()` per message would cost several
 * hundred ns; this costs a map lookup and an add.
 */
class HandlerSeries {
  received = 0;
  duplicates = 0;
  readonly durations = new DurationSeries(HANDLER_BUCKETS);
  readonly failed = new Map<string, number>();
  readonly dead = new Map<string, number>();

  constructor(readonly labels: { readonly type: string; readonly group: string }) {}

  /** Handler successes: each one's duration is observed. */
  get handled(): number {
    return this.durations.count;
  }
}

type Values = { labels: Record<string, string | number>; value: number; metricName?: string }[];

/**
 * Subscriber metrics fed through the subscriber host's observer: received, handled, failed and
 * dead-lettered events, and handler durations, by type and group.
 */
export class SubscriberCounters implements SubscriberObserver {
  private readonly byGroup = new Map<string, Map<string, HandlerSeries>>();

  // A subscription reports type and group together many times in a row: remember the last pair.
  private last: HandlerSeries | undefined;

  private series(type: string, group: string): HandlerSeries {
    const last = this.last;
    if (last !== undefined && last.labels.type === type && last.labels.group === group) return last;
    this.last = this.lookup(type, group);
    return this.last;
  }

  private lookup(type: string, group: string): HandlerSeries {
    let byType = this.byGroup.get(group);
    if (!byType) this.byGroup.set(group, (byType = new Map()));
    let s = byType.get(type);
    if (!s) byType.set(type, (s = new HandlerSeries({ type, group })));
    return s;
  }

  onReceived(type: string, group: string): void {
    this.series(type, group).received++;
  }

  onHandled(type: string, group: string, durationMs: number): void {
    this.series(type, group).durations.observe(durationMs / 1_000);
  }

  onDuplicate(type: string, group: string): void {
    this.series(type, group).duplicates++;
  }

  onFailed(type: string, group: string, reason: string): void {
    const m = this.series(type, group).failed;
    m.set(reason, (m.get(reason) ?? 0) + 1);
  }

  onDeadLettered(type: string, group: string, reason: string): void {
    const m = this.series(type, group).dead;
    m.set(reason, (m.get(reason) ?? 0) + 1);
  }

  private *all(): Iterable<HandlerSeries> {
    for (const byType of this.byGroup.values()) yield* byType.values();
  }

  /** Registers the counters and the duration histogram with `registry`. */
  register(registry: Registry): void {
    const all = () => this.all();
    const counter = (name: string, help: string, read: (s: HandlerSeries) => Values) =>
      new Counter({
        name,
        help,
        labelNames: ['type', 'group', 'reason'],
        registers: [registry],
        collect() {
          this.reset();
          for (const s of all()) for (const v of read(s)) this.inc(v.labels, v.value);
        },
      });
    const byReason = (s: HandlerSeries, m: Map<string, number>): Values =>
      [...m].map(([reason, value]) => ({ labels: { ...s.labels, reason }, value }));
    counter('bulwark_events_received_total', 'Deliveries received, redeliveries included', (s) => [
      { labels: s.labels, value: s.received },
    ]);
    counter('bulwark_events_handled_total', 'Handler successes', (s) => [
      { labels: s.labels, value: s.handled },
    ]);
    counter('bulwark_duplicates_skipped_total', 'Duplicates by idempotency key, acked unhandled', (s) =>
      s.duplicates > 0 ? [{ labels: s.labels, value: s.duplicates }] : [],
    );
    counter('bulwark_events_failed_total', 'Failed handler attempts', (s) => byReason(s, s.failed));
    counter('bulwark_events_dead_lettered_total', 'Events sent to the dead-letter store', (s) =>
      byReason(s, s.dead),
    );
    const histogram = plainHistogram(
      'bulwark_handler_duration_seconds',
      'Handler run time of successful attempts',
      all,
    );
    registry.registerMetric(histogram);
  }
}
