export interface HistogramBin {
  /** inclusive lower bound */
  from: number;
  /** exclusive upper bound (inclusive for the last bin) */
  to: number;
  count: number;
}

/** Equal-width bins over [min, max] of whole-number values (token counts). */
export function histogramBins(values: readonly number[], binCount = 10): HistogramBin[] {
  if (values.length === 0) return [];
  let min = Infinity;
  let max = -Infinity;
  for (const value of values) {
    if (value < min) min = value;
    if (value > max) max = value;
  }
  const width = Math.max(1, Math.ceil((max - min + 1) / binCount));
  const bins: HistogramBin[] = [];
  for (let from = min; from <= max; from += width) bins.push({ from, to: from + width, count: 0 });
  for (const value of values) {
    const index = Math.min(bins.length - 1, Math.floor((value - min) / width));
    bins[index]!.count++;
  }
  return bins;
}

/** Plain-text bars, one line per bin: `  26 -   827 | ######## 3`. */
export function renderHistogram(bins: readonly HistogramBin[], barWidth = 40): string {
  if (bins.length === 0) return "(no examples)";
  const largest = Math.max(...bins.map((bin) => bin.count));
  const labelWidth = String(bins[bins.length - 1]!.to - 1).length;
  return bins
    .map((bin) => {
      const bar = largest === 0 ? "" : "#".repeat(Math.round((bin.count / largest) * barWidth));
      const visible = bin.count > 0 && bar === "" ? "." : bar;
      return `${String(bin.from).padStart(labelWidth)} - ${String(bin.to - 1).padStart(labelWidth)} | ${visible} ${bin.count}`;
    })
    .join("\n");
}
