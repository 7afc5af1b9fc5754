import type { DatasetFormat } from "../../spec/dataset.js";
import { collectTokenCounts, type SkippedLine } from "../stats/collect-token-counts.js";
import type { DatasetTokenCounter } from "../tokens/load-token-counter.js";
import { TiktokenCounter, openAiEncodingFor, type OpenAiEncodingName } from "../tokens/tiktoken-counter.js";
import { billedTokensPerEpoch, trainingCost } from "./billed-tokens.js";
import { isoDay, modelLifecycle, type ModelLifecycle } from "./model-lifecycle.js";
import { findHostedPrice, unknownHostedModelWarning, type PriceTable } from "./price-table.js";
import { MAX_DEFAULT_EPOCHS, MAX_TARGET_EXAMPLES, MIN_DEFAULT_EPOCHS, MIN_TARGET_EXAMPLES, TARGET_EPOCHS, resolveEpochs } from "./resolve-epochs.js";

export interface HostedEstimate {
  provider: string;
  model: string;
  /** true for the model passed with --model */
  selected: boolean;
  encoding: OpenAiEncodingName;
  maxTrainingContext: number;
  examplesOverContext: number;
  billedTokensPerEpoch: number;
  billedTokens: number;
  pricePerMillion: number;
  cost: number;
  currency: string;
  asOf: string;
  source: string;
  /** whether it can still be fine-tuned and until when it answers (price table) */
  lifecycle: ModelLifecycle;
}

export interface LocalEstimate {
  method: string;
  contextLength: number | null;
  /** tokens the worker processes per epoch (each example capped at the context length) */
  tokensPerEpoch: number;
  trainedTokensPerEpoch: number;
  tokensProcessed: number;
  tokensPerSecond: number | null;
  seconds: number | null;
  note: string;
}

/** What `tunekit estimate` reports (the `--json` document). */
export interface TrainingEstimate {
  file: string;
  model: string;
  examples: number;
  skipped: { count: number; lines: SkippedLine[] };
  epochs: number;
  epochsRule: string;
  hosted: HostedEstimate[];
  local: LocalEstimate | null;
  priceNote: string;
  /** the day the lifecycle warnings were worked out for (YYYY-MM-DD, UTC) */
  today: string;
  /** the selected hosted model's lifecycle warnings (it can no longer be fine-tuned, it stops answering) */
  warnings: string[];
}

export interface EstimateOptions {
  file: string;
  model: string;
  counter: DatasetTokenCounter;
  epochs: "auto" | number;
  prices: PriceTable;
  tokensPerSecond?: number | null;
  format?: DatasetFormat | "auto";
  /** the day to judge fine-tuning availability and shutdown on (default: today, UTC) */
  today?: string;
  /** warn when the selected model stops answering before this day (YYYY-MM-DD) */
  neededUntil?: string | null;
}

/**
 * Epochs (the cookbook rule for `auto`), billed tokens and price for every hosted model in the
 * price table (each counted with its own tiktoken encoding and capped at its max training
 * context), and for an open model the tokens the local worker processes and, when a measured
 * throughput is given, the time it takes.
 */
export async function estimateTraining(options: EstimateOptions): Promise<TrainingEstimate> {
  const selectedEncoding = openAiEncodingFor(options.model);
  const isHosted = selectedEncoding !== null && options.counter instanceof TiktokenCounter;
  const encodings = [...new Set(options.prices.models.map((entry) => openAiEncodingFor(entry.model)).filter((name) => name !== null))];
  const hostedCounters = encodings.map((name) => new TiktokenCounter(name));
  const counters: DatasetTokenCounter[] = [options.counter, ...hostedCounters];
  const counts = await collectTokenCounts(options.file, counters, options.format ?? "auto");
  const epochs = resolveEpochs(counts.examples, options.epochs);
  const selectedEntry = findHostedPrice(options.prices, options.model);
  const today = options.today ?? isoDay(new Date());

  const hosted: HostedEstimate[] = [];
  for (const entry of options.prices.models) {
    const encoding = openAiEncodingFor(entry.model);
    if (encoding === null) continue;
    const tokens = counts.totalTokens[1 + encodings.indexOf(encoding)]!;
    const perEpoch = billedTokensPerEpoch(tokens, entry.max_training_context);
    hosted.push({
      provider: entry.provider,
      model: entry.model,
      selected: entry === selectedEntry,
      encoding,
      maxTrainingContext: entry.max_training_context,
      examplesOverContext: tokens.filter((count) => count > entry.max_training_context).length,
      billedTokensPerEpoch: perEpoch,
      billedTokens: epochs * perEpoch,
      pricePerMillion: entry.training_per_million,
      cost: trainingCost(epochs * perEpoch, entry.training_per_million),
      currency: options.prices.currency,
      asOf: entry.as_of,
      source: entry.source,
      lifecycle: modelLifecycle(entry, { today, neededUntil: entry === selectedEntry ? options.neededUntil : null }),
    });
  }

  let local: LocalEstimate | null = null;
  if (!isHosted) {
    const contextLength = options.counter.contextLength;
    const tokensPerEpoch = billedTokensPerEpoch(counts.totalTokens[0]!, contextLength);
    const tokensPerSecond = options.tokensPerSecond ?? null;
    const tokensProcessed = epochs * tokensPerEpoch;
    local = {
      method: options.counter.method,
      contextLength,
      tokensPerEpoch,
      trainedTokensPerEpoch: counts.trainedTokens[0]!.reduce((sum, value) => sum + value, 0),
      tokensProcessed,
      tokensPerSecond,
      seconds: tokensPerSecond ? tokensProcessed / tokensPerSecond : null,
      note: tokensPerSecond
        ? `time = tokens processed / ${tokensPerSecond} tokens per second (measured throughput you passed)`
        : "training time unknown: pass --tokens-per-second N with a throughput measured on this machine",
    };
  }

  return {
    file: options.file,
    model: options.model,
    examples: counts.examples,
    skipped: { count: counts.skippedCount, lines: counts.skipped },
    epochs,
    epochsRule:
      options.epochs === "auto"
        ? `auto, the OpenAI cookbook rule: ${TARGET_EPOCHS}, or enough to bring examples x epochs up to ${MIN_TARGET_EXAMPLES} (at most ${MAX_DEFAULT_EPOCHS}) or down to ${MAX_TARGET_EXAMPLES} (at least ${MIN_DEFAULT_EPOCHS})`
        : "requested",
    hosted,
    local,
    today,
    warnings: [...(hosted.find((row) => row.selected)?.lifecycle.warnings ?? []), ...[unknownHostedModelWarning(options.prices, options.model)].filter((warning) => warning !== null)],
    priceNote: `Hosted prices from the price table (${options.prices.unit}, ${options.prices.currency}); billed tokens = epochs x sum(min(max training context, tokens per example)), tokens counted with tiktoken and the cookbook rule. The cap is each model's max training context from the table (65,536 for the gpt-4o and gpt-4.1 families per OpenAI's fine-tuning docs; the cookbook used 16,385, gpt-3.5-turbo's). Check each entry's source before you rely on it.`,
  };
}

function formatDuration(seconds: number): string {
  if (seconds < 60) return `${seconds.toFixed(0)} s`;
  if (seconds < 3600) return `${(seconds / 60).toFixed(1)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

function lifecycleNote(lifecycle: ModelLifecycle): string {
  const parts = [
    lifecycle.fineTuningEnds === null ? null : lifecycle.canFineTune ? `no new jobs from ${lifecycle.fineTuningEnds}` : `no new jobs since ${lifecycle.fineTuningEnds}`,
    lifecycle.shutdown === null ? null : lifecycle.answers ? `stops answering ${lifecycle.shutdown}` : `shut down ${lifecycle.shutdown}`,
  ].filter((part) => part !== null);
  return parts.length ? `  [${parts.join(", ")}]` : "";
}

/** Human report of `tunekit estimate`. */
export function formatTrainingEstimate(estimate: TrainingEstimate): string {
  const lines = [
    ...estimate.warnings.map((warning) => `warning: ${warning}`),
    `${estimate.file}: ${estimate.examples} examples${estimate.skipped.count ? `, ${estimate.skipped.count} line(s) skipped (see \`tunekit data validate\`)` : ""}`,
    `epochs: ${estimate.epochs} (${estimate.epochsRule})`,
    "",
    "hosted fine-tuning (price per 1M training tokens, max training context):",
  ];
  const width = Math.max(...estimate.hosted.map((row) => row.model.length), 5);
  for (const row of estimate.hosted) {
    lines.push(
      `${row.selected ? "*" : " "} ${row.model.padEnd(width)}  ${String(row.billedTokens).padStart(12)} billed tokens  ${row.currency} ${row.cost.toFixed(2).padStart(9)}  (${row.pricePerMillion}/1M as of ${row.asOf}, cap ${row.maxTrainingContext}${row.examplesOverContext ? `, ${row.examplesOverContext} example(s) over it` : ""})${lifecycleNote(row.lifecycle)}`,
    );
  }
  if (estimate.local) {
    const local = estimate.local;
    lines.push(
      "",
      `local training with ${estimate.model}:`,
      `  counted with: ${local.method}`,
      `  ${local.tokensProcessed} tokens processed (${local.tokensPerEpoch} per epoch${local.contextLength ? `, each example capped at ${local.contextLength}` : ""}), ${local.trainedTokensPerEpoch} trained tokens per epoch`,
      `  time: ${local.seconds === null ? "unknown" : formatDuration(local.seconds)} (${local.note})`,
    );
  }
  lines.push("", estimate.priceNote);
  return lines.join("\n");
}
