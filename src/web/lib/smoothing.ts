/**
 * Exponential moving average with TensorBoard's debiasing: the first points are not pulled toward
 * zero. `weight` 0 is the raw line, 0.99 very smooth. Gaps (null, NaN) stay gaps and do not reset
 * the average.
 */
export function smooth(values: ReadonlyArray<number | null | undefined>, weight: number): Array<number | null> {
  const out: Array<number | null> = new Array(values.length);
  if (!(weight > 0)) {
    for (let index = 0; index < values.length; index++) {
      const value = values[index];
      out[index] = value === null || value === undefined || !Number.isFinite(value) ? null : value;
    }
    return out;
  }
  const w = Math.min(weight, 0.999);
  let last = 0;
  let count = 0;
  for (let index = 0; index < values.length; index++) {
    const value = values[index];
    if (value === null || value === undefined || !Number.isFinite(value)) {
      out[index] = null;
      continue;
    }
    last = last * w + (1 - w) * value;
    count += 1;
    out[index] = last / (1 - Math.pow(w, count));
  }
  return out;
}
