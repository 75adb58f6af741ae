/**
 * Latency summaries: nearest-rank percentiles (the smallest sample with at
 * least q% of the samples at or below it) over a Float64Array, sorted once.
 */

export interface Summary {
  count: number;
  p50: number;
  p99: number;
  p999: number;
  max: number;
}

/** Nearest-rank q-th percentile of ascending `sorted` (NaN when empty). */
export function rank(sorted: Float64Array, q: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  // q * n / 100 can land a hair above a whole number (99.9 is not exact in binary): not a reason to round up
  return sorted[Math.min(n - 1, Math.max(0, Math.ceil((q * n) / 100 - 1e-9) - 1))];
}

/** p50 / p99 / p99.9 / max of the samples (copied, the input is left as it is). */
export function summarize(samples: Float64Array | readonly number[]): Summary {
  const sorted = Float64Array.from(samples).sort();
  return {
    count: sorted.length,
    p50: rank(sorted, 50),
    p99: rank(sorted, 99),
    p999: rank(sorted, 99.9),
    max: sorted.length ? sorted[sorted.length - 1] : NaN,
  };
}
