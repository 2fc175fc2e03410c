/**
 * Small numeric helpers: median over runs, latency percentiles, and human-readable formatting.
 */

export const median = (xs: ReadonlyArray<number>): number => {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b)
  if (v.length === 0) return NaN
  const mid = v.length >> 1
  return v.length % 2 === 1 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2
}

/** Nearest-rank percentile (`p` in 0…100) of an already sorted array. */
export const percentileSorted = (sorted: ArrayLike<number>, p: number): number => {
  if (sorted.length === 0) return NaN
  const rank = Math.ceil((p / 100) * sorted.length)
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!
}

export interface LatencySummary {
  count: number
  p50: number
  p90: number
  p99: number
  p999: number
  max: number
  mean: number
}

export const summarizeLatencies = (us: Float64Array): LatencySummary => {
  const sorted = Float64Array.from(us).sort()
  let sum = 0
  for (let i = 0; i < sorted.length; i++) sum += sorted[i]!
  return {
    count: sorted.length,
    p50: percentileSorted(sorted, 50),
    p90: percentileSorted(sorted, 90),
    p99: percentileSorted(sorted, 99),
    p999: percentileSorted(sorted, 99.9),
    max: sorted.length > 0 ? sorted[sorted.length - 1]! : NaN,
    mean: sorted.length > 0 ? sum / sorted.length : NaN
  }
}

/** 1234567 → "1.23M", 45678 → "45.7k". */
export const fmtCount = (x: number): string => {
  if (!Number.isFinite(x)) return "-"
  if (x >= 1e6) return `${(x / 1e6).toFixed(2)}M`
  if (x >= 1e3) return `${(x / 1e3).toFixed(1)}k`
  return x.toFixed(0)
}

export const fmtFixed = (x: number, digits: number): string => (Number.isFinite(x) ? x.toFixed(digits) : "-")

/** CPU use during a run's timed phase. */
export interface CpuUse {
  /** Cores used on average during the timed phase. */
  server: number
  client: number
  /** Cores used by everything else on the host (other jobs on a shared machine skew results). */
  other: number
  wallS: number
}
