import type { DatasetFormat } from "../../spec/dataset.js";
import type { DatasetTokenCounter } from "../tokens/load-token-counter.js";
import type { DatasetRecordsOptions } from "../decode/dataset-records.js";
import { collectTokenCounts, type SkippedLine } from "./collect-token-counts.js";
import { summarize, type Distribution } from "./distribution.js";
import { histogramBins, renderHistogram, type HistogramBin } from "./histogram.js";

/** What `tunekit data stats` reports (the `--json` document). */
export interface DatasetStats {
  file: string;
  model: string;
  /** how tokens were counted */
  method: string;
  contextLength: number | null;
  examples: number;
  formats: Partial<Record<DatasetFormat, number>>;
  skipped: { count: number; lines: SkippedLine[]; hint: string | null };
  messagesPerExample: Distribution | null;
  tokensPerExample: Distribution | null;
  trainedTokensPerExample: Distribution | null;
  totalTokens: number;
  totalTrainedTokens: number;
  /** examples longer than the context length (null when it is unknown) */
  overContextLength: number | null;
  histogram: HistogramBin[];
  /**
   * preference pairs: the counts above are of the prompt with the preferred answer; DPO also reads
   * the prompt with the non-preferred one (null for other formats)
   */
  nonPreferred: { pairs: number; tokensPerExample: Distribution | null; totalTokens: number; totalTrainedTokens: number } | null;
}

export interface DatasetStatsOptions {
  model: string;
  format?: DatasetFormat | "auto";
  histogramBins?: number;
  /** records read so far, for a progress display */
  onProgress?: (recordsRead: number) => void;
  /** --map, --encoding, --json-key, --split */
  reader?: DatasetRecordsOptions;
}

function sum(values: readonly number[]): number {
  let total = 0;
  for (const value of values) total += value;
  return total;
}

export async function computeDatasetStats(file: string, counter: DatasetTokenCounter, options: DatasetStatsOptions): Promise<DatasetStats> {
  const counts = await collectTokenCounts(file, [counter], options.format ?? "auto", options.onProgress, options.reader);
  const totals = counts.totalTokens[0]!;
  const trained = counts.trainedTokens[0]!;
  const contextLength = counter.contextLength;
  return {
    file,
    model: options.model,
    method: counter.method,
    contextLength,
    examples: counts.examples,
    formats: counts.formats,
    skipped: {
      count: counts.skippedCount,
      lines: counts.skipped,
      hint: counts.skippedCount > 0 ? `run \`tunekit data validate ${file}\` to see why each line is rejected` : null,
    },
    messagesPerExample: summarize(counts.messagesPerExample),
    tokensPerExample: summarize(totals),
    trainedTokensPerExample: summarize(trained),
    totalTokens: sum(totals),
    totalTrainedTokens: sum(trained),
    overContextLength: contextLength === null ? null : totals.filter((tokens) => tokens > contextLength).length,
    histogram: histogramBins(totals, options.histogramBins ?? 10),
    nonPreferred:
      counts.preferencePairs > 0
        ? {
            pairs: counts.preferencePairs,
            tokensPerExample: summarize(counts.rejectedTotalTokens[0]!.filter((_, index) => counts.rejectedTotalTokens[0]![index]! > 0)),
            totalTokens: sum(counts.rejectedTotalTokens[0]!),
            totalTrainedTokens: sum(counts.rejectedTrainedTokens[0]!),
          }
        : null,
  };
}

function round(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toFixed(1);
}

function distributionLine(label: string, distribution: Distribution | null): string {
  if (distribution === null) return `${label}: (none)`;
  const { min, max, mean, median, p10, p90 } = distribution;
  return `${label.padEnd(28)} min ${round(min)}  max ${round(max)}  mean ${round(mean)}  median ${round(median)}  p10 ${round(p10)}  p90 ${round(p90)}`;
}

/** Human report of `tunekit data stats`. */
export function formatDatasetStats(stats: DatasetStats): string {
  const formats = Object.entries(stats.formats)
    .map(([format, count]) => `${format} ${count}`)
    .join(", ");
  const lines = [
    `${stats.file}: ${stats.examples} examples${formats ? ` (${formats})` : ""}`,
    `counted with: ${stats.method}`,
    "",
    distributionLine("messages per example", stats.messagesPerExample),
    distributionLine("tokens per example", stats.tokensPerExample),
    distributionLine("trained tokens per example", stats.trainedTokensPerExample),
    `total tokens ${stats.totalTokens}, trained tokens ${stats.totalTrainedTokens}`,
    ...(stats.nonPreferred
      ? [
          `preference pairs (${stats.nonPreferred.pairs}): the counts above are the prompt with the preferred answer; DPO also reads it with the non-preferred one:`,
          distributionLine("  non-preferred tokens", stats.nonPreferred.tokensPerExample),
          `  non-preferred total tokens ${stats.nonPreferred.totalTokens}, trained tokens ${stats.nonPreferred.totalTrainedTokens}`,
        ]
      : []),
    "",
    "tokens per example:",
    renderHistogram(stats.histogram),
    "",
    stats.contextLength === null
      ? "context length unknown: examples over it not checked"
      : `${stats.overContextLength} example(s) over the context length of ${stats.contextLength} tokens${stats.overContextLength ? " (they will be truncated)" : ""}`,
  ];
  if (stats.skipped.count > 0) {
    lines.push("", `${stats.skipped.count} line(s) skipped:`);
    for (const skipped of stats.skipped.lines) lines.push(`  line ${skipped.line}: ${skipped.reason}`);
    if (stats.skipped.count > stats.skipped.lines.length) lines.push(`  ... and ${stats.skipped.count - stats.skipped.lines.length} more`);
    const fixes = new Map<string, string>();
    for (const skipped of stats.skipped.lines) if (skipped.code && skipped.fix && !fixes.has(skipped.code)) fixes.set(skipped.code, skipped.fix);
    for (const [code, fix] of fixes) lines.push(`fix (${code}): ${fix}`);
    if (stats.skipped.hint) lines.push(stats.skipped.hint);
  }
  return lines.join("\n");
}
