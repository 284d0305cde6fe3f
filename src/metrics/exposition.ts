// Prometheus' text exposition format (version 0.0.4): metric families as data, written as text. Pure: what to
// measure and where to serve it is the daemon's business.

export type MetricType = 'counter' | 'gauge' | 'histogram';

export type Labels = Readonly<Record<string, string>>;

export interface Sample {
  readonly labels?: Labels;
  readonly value: number;
}

/** Cumulative bucket counts (one per upper bound, `le`), the sum and the count of the observations. */
export interface HistogramSample {
  readonly labels?: Labels;
  readonly buckets: readonly number[];
  readonly counts: readonly number[];
  readonly sum: number;
  readonly count: number;
}

export type MetricFamily =
  | { readonly name: string; readonly help: string; readonly type: 'counter' | 'gauge'; readonly samples: readonly Sample[] }
  | { readonly name: string; readonly help: string; readonly type: 'histogram'; readonly samples: readonly HistogramSample[] };

export const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/u;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/u;

function escapeLabel(value: string): string {
  return value.replace(/\\/gu, '\\\\').replace(/\n/gu, '\\n').replace(/"/gu, '\\"');
}

function escapeHelp(value: string): string {
  return value.replace(/\\/gu, '\\\\').replace(/\n/gu, '\\n');
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

function seriesKey(labels: Labels): string {
  // Plain code-unit order: localeCompare would load ICU's collation data on the first request (a slow start).
  return JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

function formatLabels(labels: Labels | undefined, extra?: readonly [string, string]): string {
  const pairs = Object.entries(labels ?? {});
  if (extra !== undefined) pairs.push([extra[0], extra[1]]);
  if (pairs.length === 0) return '';
  for (const [key] of pairs) if (!LABEL.test(key) || key.startsWith('__')) throw new Error(`invalid label name ${key}`);
  return `{${pairs.map(([key, value]) => `${key}="${escapeLabel(value)}"`).join(',')}}`;
}

/** The families as one exposition; a family without samples still gets its HELP and TYPE lines. */
export function formatMetrics(families: readonly MetricFamily[]): string {
  const lines: string[] = [];
  for (const family of families) {
    if (!NAME.test(family.name)) throw new Error(`invalid metric name ${family.name}`);
    lines.push(`# HELP ${family.name} ${escapeHelp(family.help)}`, `# TYPE ${family.name} ${family.type}`);
    if (family.type === 'histogram') {
      for (const sample of family.samples) {
        sample.buckets.forEach((bound, index) => {
          lines.push(
            `${family.name}_bucket${formatLabels(sample.labels, ['le', formatValue(bound)])} ${formatValue(sample.counts[index] ?? 0)}`,
          );
        });
        lines.push(`${family.name}_bucket${formatLabels(sample.labels, ['le', '+Inf'])} ${formatValue(sample.count)}`);
        lines.push(`${family.name}_sum${formatLabels(sample.labels)} ${formatValue(sample.sum)}`);
        lines.push(`${family.name}_count${formatLabels(sample.labels)} ${formatValue(sample.count)}`);
      }
    } else {
      for (const sample of family.samples) lines.push(`${family.name}${formatLabels(sample.labels)} ${formatValue(sample.value)}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

/** Request latencies span a fraction of a millisecond (a lookup) to seconds (a join under load, under emulation). */
export const LATENCY_BUCKETS: readonly number[] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Observations of one quantity per label set, kept as cumulative bucket counts. */
export class Histogram {
  readonly #buckets: readonly number[];
  readonly #series = new Map<string, { labels: Labels; counts: number[]; sum: number; count: number }>();

  constructor(buckets: readonly number[] = LATENCY_BUCKETS) {
    this.#buckets = [...buckets].sort((a, b) => a - b);
  }

  observe(labels: Labels, value: number): void {
    const key = seriesKey(labels);
    const series = this.#series.get(key) ?? { labels, counts: this.#buckets.map(() => 0), sum: 0, count: 0 };
    this.#series.set(key, series);
    this.#buckets.forEach((bound, index) => {
      if (value <= bound) series.counts[index] = (series.counts[index] ?? 0) + 1;
    });
    series.sum += value;
    series.count += 1;
  }

  samples(): HistogramSample[] {
    return [...this.#series.values()].map((series) => ({
      labels: series.labels,
      buckets: this.#buckets,
      counts: [...series.counts],
      sum: series.sum,
      count: series.count,
    }));
  }
}

/** Counts per label set. */
export class Counter {
  readonly #series = new Map<string, { labels: Labels; value: number }>();

  inc(labels: Labels, by = 1): void {
    const key = seriesKey(labels);
    const series = this.#series.get(key);
    if (series === undefined) this.#series.set(key, { labels, value: by });
    else series.value += by;
  }

  samples(): Sample[] {
    return [...this.#series.values()].map((series) => ({ labels: series.labels, value: series.value }));
  }
}
