// Order statistics for benchmark samples. Percentiles by the nearest-rank method: p99 of fewer than 100 samples is
// the largest, which BENCHMARKS.md says next to each figure (the sample count is always printed).

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] ?? Number.NaN;
}

export function median(values: readonly number[]): number {
  return percentile(values, 50);
}

export interface Spread {
  readonly p50: number;
  readonly p99: number;
  readonly samples: number;
}

export function spread(values: readonly number[]): Spread {
  return { p50: percentile(values, 50), p99: percentile(values, 99), samples: values.length };
}

/** Milliseconds since `start` (performance.now()), rounded to microseconds. */
export function since(start: number): number {
  return Math.round((performance.now() - start) * 1000) / 1000;
}
