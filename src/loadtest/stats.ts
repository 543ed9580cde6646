// Exact latency statistics from every sample (no histogram: a sweep level holds at most a few
// thousand samples, so sorting them all is cheap and the percentiles are the true ones).

export interface LatencySummary {
  /** Samples the figures come from. */
  count: number;
  min: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/**
 * Nearest-rank percentile of ascending `sorted` values: the smallest sample such that at least p% of
 * the samples are less or equal to it (the definition HDR histograms and perf_analyzer report).
 */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile must be within 0..100, got ${p}`);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1] ?? Number.NaN;
}

/** Rounds to 3 decimals: microseconds for milliseconds, and JSON stays readable. */
export const round3 = (value: number): number => Math.round(value * 1000) / 1000;

export function summarize(samples: ArrayLike<number>): LatencySummary {
  const sorted = Float64Array.from(samples).sort();
  const count = sorted.length;
  if (count === 0) {
    return {
      count,
      min: Number.NaN,
      mean: Number.NaN,
      p50: Number.NaN,
      p90: Number.NaN,
      p99: Number.NaN,
      max: Number.NaN,
    };
  }
  let sum = 0;
  for (const value of sorted) sum += value;
  return {
    count,
    min: round3(sorted[0] ?? Number.NaN),
    mean: round3(sum / count),
    p50: round3(percentile(sorted, 50)),
    p90: round3(percentile(sorted, 90)),
    p99: round3(percentile(sorted, 99)),
    max: round3(sorted[count - 1] ?? Number.NaN),
  };
}
