import type { Metric } from 'prom-client';

/** Label values of one series. */
export type Labels = Readonly<Record<string, string>>;

/**
 * Durations as plain numbers: the hot path adds to them, prom-client reads them at scrape time. A
 * labelled prom-client `observe()` hashes its labels on every call (several hundred ns); this costs
 * an add and a bucket.
 */
export class DurationSeries {
  count = 0;
  sum = 0;
  readonly buckets: Float64Array;

  /** @param bounds - the buckets' upper bounds, in seconds, ascending */
  constructor(readonly bounds: readonly number[]) {
    this.buckets = new Float64Array(bounds.length);
  }

  observe(seconds: number): void {
    this.count++;
    this.sum += seconds;
    const bounds = this.bounds;
    for (let i = 0; i < bounds.length; i++)
      if (seconds <= bounds[i]!) {
        this.buckets[i]!++;
        return;
      }
  }
}

type Values = { labels: Record<string, string | number>; value: number; metricName: string }[];

/**
 * @returns a prom-client histogram metric (register it with `registry.registerMetric`) that reads
 * `series` when scraped
 */
export function plainHistogram(
  name: string,
  help: string,
  series: () => Iterable<{ readonly labels: Labels; readonly durations: DurationSeries }>,
): Metric {
  const get = () => {
    const values: Values = [];
    for (const { labels, durations: d } of series()) {
      let cumulative = 0;
      d.bounds.forEach((le, i) => {
        cumulative += d.buckets[i]!;
        values.push({ metricName: `${name}_bucket`, labels: { ...labels, le }, value: cumulative });
      });
      values.push({ metricName: `${name}_bucket`, labels: { ...labels, le: '+Inf' }, value: d.count });
      values.push({ metricName: `${name}_sum`, labels, value: d.sum });
      values.push({ metricName: `${name}_count`, labels, value: d.count });
    }
    return { name, help, type: 'histogram', aggregator: 'sum', values };
  };
  const metric = {
    name,
    help,
    type: 'histogram',
    aggregator: 'sum',
    get: () => Promise.resolve(get()),
    reset() {},
  };
  return metric as unknown as Metric;
}
