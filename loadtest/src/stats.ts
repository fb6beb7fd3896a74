/** The p-th percentile (0..100) by linear interpolation; undefined for no samples. */
export function percentile(values: readonly number[], p: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const at = (p / 100) * (sorted.length - 1);
  const lo = Math.floor(at);
  const hi = Math.ceil(at);
  return (sorted[lo] ?? 0) + ((sorted[hi] ?? 0) - (sorted[lo] ?? 0)) * (at - lo);
}

export interface Summary {
  p50: number | null;
  p95: number | null;
  max: number | null;
  n: number;
}

/** p50, p95 and max, rounded to 0.1, null when there are no samples (JSON has no undefined). */
export function summary(values: readonly number[]): Summary {
  const r = (v: number | undefined) => (v === undefined ? null : Math.round(v * 10) / 10);
  return { p50: r(percentile(values, 50)), p95: r(percentile(values, 95)), max: r(values.length ? Math.max(...values) : undefined), n: values.length };
}

/** Reads one sample of a Prometheus text exposition. */
export function metric(text: string, name: string): number | undefined {
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  return m?.[1] === undefined ? undefined : Number(m[1]);
}
