import type { DatasetFormat } from "../../spec/dataset.js";
import type { DatasetRecordsOptions } from "../decode/dataset-records.js";
import { collectTokenCounts, type SkippedLine } from "../stats/collect-token-counts.js";
import { noUsableExamples } from "../stats/no-usable-examples.js";
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
  /** preference data: billed tokens per epoch of the prompt with the preferred / the non-preferred answer (null otherwise) */
  chosenTokensPerEpoch: number | null;
  rejectedTokensPerEpoch: number | null;
  billedTokens: number;
  pricePerMillion: number;
  cost: number;
  currency: string;
  asOf: string;
  source: string;
  /** whether it can still be fine-tuned and until when it answers (price table) */
  lifecycle: ModelLifecycle;
}

/** What DPO processes on top of one sequence per example (local worker, `training.method: dpo`). */
export interface DpoBreakdown {
  pairs: number;
  /** tokens of the prompt with the preferred answer, per epoch (each sequence capped) */
  chosenTokensPerEpoch: number;
  /** tokens of the prompt with the non-preferred answer, per epoch */
  rejectedTokensPerEpoch: number;
  /** tokens the reference model reads, forward only, once before training (chosen + rejected) */
  referenceForwardTokens: number;
  /** cost of a forward-only token relative to a trained (forward + backward) one */
  referenceTokenWeight: number;
  note: string;
}

export interface LocalEstimate {
  /** how tokens were counted */
  method: string;
  /** `training.method` of the config (lora, qlora, full, dpo); dpo whenever the data is preference pairs */
  trainingMethod: string | null;
  contextLength: number | null;
  /** `data.max_seq_len` of the config: the worker cuts every sequence to it (null when no config was read) */
  maxSeqLen: number | null;
  /** each sequence is capped at this: min(context length, max_seq_len) */
  sequenceCap: number | null;
  /** examples with a sequence over the cap (the worker truncates them) */
  truncatedExamples: number;
  /** tokens the worker trains on per epoch (each sequence capped; both answers of a preference pair) */
  tokensPerEpoch: number;
  trainedTokensPerEpoch: number;
  /** every token read: epochs x tokens per epoch, plus the DPO reference pass */
  tokensProcessed: number;
  /** forward+backward-token equivalents: epochs x tokens per epoch + reference tokens x its relative cost (what time is worked out from) */
  computeTokens: number;
  batchSize: number | "auto" | null;
  stepsPerEpoch: number | null;
  totalSteps: number | null;
  dpo: DpoBreakdown | null;
  tokensPerSecond: number | null;
  seconds: number | null;
  note: string;
}

/** What `tunekit estimate` reports (the `--json` document). */
export interface TrainingEstimate {
  file: string;
  model: string;
  /** the config file the model, data and training settings came from (null: flags only) */
  config: string | null;
  examples: number;
  /** the data format counted; preference pairs count both answers */
  formats: Partial<Record<DatasetFormat, number>>;
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
  /** where the epochs came from when not `--epochs` (e.g. "`training.epochs` of tunekit.yaml") */
  epochsSource?: string | null;
  /** `data.max_seq_len` (local training cuts each sequence to it) */
  maxSeqLen?: number | null;
  /** `training.method` */
  trainingMethod?: string | null;
  /** `training.batch_size` */
  batchSize?: number | "auto" | null;
  /** the config file read, when one was */
  config?: string | null;
  /** records read so far, for a progress display */
  onProgress?: (recordsRead: number) => void;
  /** --map, --encoding, --json-key, --split */
  reader?: DatasetRecordsOptions;
}

/**
 * A forward pass costs about a third of a training step's forward + backward (the backward pass is
 * about twice the forward), so the reference model's tokens count a third.
 */
export const FORWARD_ONLY_COST = 1 / 3;

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
  const counts = await collectTokenCounts(options.file, counters, options.format ?? "auto", options.onProgress, options.reader);
  if (counts.examples === 0) throw noUsableExamples(options.file, { count: counts.skippedCount, lines: counts.skipped });
  const epochs = resolveEpochs(counts.examples, options.epochs);
  const selectedEntry = findHostedPrice(options.prices, options.model);
  const today = options.today ?? isoDay(new Date());

  const hosted: HostedEstimate[] = [];
  for (const entry of options.prices.models) {
    const encoding = openAiEncodingFor(entry.model);
    if (encoding === null) continue;
    const counter = 1 + encodings.indexOf(encoding);
    const tokens = counts.totalTokens[counter]!;
    const rejected = counts.rejectedTotalTokens[counter]!;
    const chosenPerEpoch = billedTokensPerEpoch(tokens, entry.max_training_context);
    const rejectedPerEpoch = billedTokensPerEpoch(rejected, entry.max_training_context);
    const perEpoch = chosenPerEpoch + rejectedPerEpoch;
    const preference = counts.preferencePairs > 0;
    hosted.push({
      provider: entry.provider,
      model: entry.model,
      selected: entry === selectedEntry,
      encoding,
      maxTrainingContext: entry.max_training_context,
      examplesOverContext: tokens.filter((count, index) => count > entry.max_training_context || rejected[index]! > entry.max_training_context).length,
      billedTokensPerEpoch: perEpoch,
      chosenTokensPerEpoch: preference ? chosenPerEpoch : null,
      rejectedTokensPerEpoch: preference ? rejectedPerEpoch : null,
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
  const warnings: string[] = [];
  if (!isHosted) {
    const contextLength = options.counter.contextLength;
    const maxSeqLen = options.maxSeqLen ?? null;
    const caps = [contextLength, maxSeqLen].filter((value): value is number => value !== null);
    const sequenceCap = caps.length > 0 ? Math.min(...caps) : null;
    const chosen = counts.totalTokens[0]!;
    const rejected = counts.rejectedTotalTokens[0]!;
    const chosenPerEpoch = billedTokensPerEpoch(chosen, sequenceCap);
    const rejectedPerEpoch = billedTokensPerEpoch(rejected, sequenceCap);
    const tokensPerEpoch = chosenPerEpoch + rejectedPerEpoch;
    const isDpo = counts.preferencePairs > 0;
    const trainingMethod = isDpo ? "dpo" : (options.trainingMethod ?? null);
    if (options.trainingMethod === "dpo" && !isDpo && counts.examples > 0) {
      warnings.push("`training.method: dpo` trains on preference pairs, and this file has none: the worker will refuse it (use `lora` or `full`, or a preference file)");
    } else if (isDpo && options.trainingMethod && options.trainingMethod !== "dpo") {
      warnings.push(
        `preference pairs train with \`training.method: dpo\`, not \`${options.trainingMethod}\`: the worker will refuse this config (set \`training.method: dpo\`); estimated as DPO`,
      );
    }
    // DPO's reference: the worker computes the base model's log-probabilities of both answers once,
    // before training (forward only), and reuses them every epoch
    const referenceForwardTokens = isDpo ? tokensPerEpoch : 0;
    const tokensPerSecond = options.tokensPerSecond ?? null;
    const tokensProcessed = epochs * tokensPerEpoch + referenceForwardTokens;
    const computeTokens = epochs * tokensPerEpoch + referenceForwardTokens * FORWARD_ONLY_COST;
    const batchSize = options.batchSize ?? null;
    const stepsPerEpoch = typeof batchSize === "number" ? Math.ceil(counts.examples / batchSize) : null;
    local = {
      method: options.counter.method,
      trainingMethod,
      contextLength,
      maxSeqLen,
      sequenceCap,
      truncatedExamples: sequenceCap === null ? 0 : chosen.filter((count, index) => count > sequenceCap || rejected[index]! > sequenceCap).length,
      tokensPerEpoch,
      trainedTokensPerEpoch: sumOf(counts.trainedTokens[0]!) + sumOf(counts.rejectedTrainedTokens[0]!),
      tokensProcessed,
      computeTokens: Math.round(computeTokens),
      batchSize,
      stepsPerEpoch,
      totalSteps: stepsPerEpoch === null ? null : stepsPerEpoch * epochs,
      dpo: isDpo
        ? {
            pairs: counts.preferencePairs,
            chosenTokensPerEpoch: chosenPerEpoch,
            rejectedTokensPerEpoch: rejectedPerEpoch,
            referenceForwardTokens,
            referenceTokenWeight: FORWARD_ONLY_COST,
            note: "DPO reads every pair twice (the prompt with the preferred and with the non-preferred answer) each epoch; Tunekit's worker runs the reference model (the base, adapters at zero) forward only once before training, about 1/3 of a trained token each (a validation file adds its own pass)",
          }
        : null,
      tokensPerSecond,
      seconds: tokensPerSecond ? computeTokens / tokensPerSecond : null,
      note: tokensPerSecond
        ? `time = ${isDpo ? "compute tokens (trained tokens + reference tokens / 3)" : "tokens processed"} / ${tokensPerSecond} tokens per second (measured throughput you passed)`
        : "training time unknown: pass --tokens-per-second N with a throughput measured on this machine",
    };
  }

  return {
    file: options.file,
    model: options.model,
    config: options.config ?? null,
    examples: counts.examples,
    formats: counts.formats,
    skipped: { count: counts.skippedCount, lines: counts.skipped },
    epochs,
    epochsRule:
      options.epochs === "auto"
        ? `${options.epochsSource ? `${options.epochsSource}: ` : ""}auto, the OpenAI cookbook rule: ${TARGET_EPOCHS}, or enough to bring examples x epochs up to ${MIN_TARGET_EXAMPLES} (at most ${MAX_DEFAULT_EPOCHS}) or down to ${MAX_TARGET_EXAMPLES} (at least ${MIN_DEFAULT_EPOCHS})`
        : (options.epochsSource ?? "requested"),
    hosted,
    local,
    today,
    warnings: [
      ...(hosted.find((row) => row.selected)?.lifecycle.warnings ?? []),
      ...[unknownHostedModelWarning(options.prices, options.model)].filter((warning) => warning !== null),
      ...warnings,
    ],
    priceNote: `Hosted prices from the price table (${options.prices.unit}, ${options.prices.currency}); billed tokens = epochs x sum(min(max training context, tokens per example)), tokens counted with tiktoken and the cookbook rule. The cap is each model's max training context from the table (65,536 for the gpt-4o and gpt-4.1 families per OpenAI's fine-tuning docs; the cookbook used 16,385, gpt-3.5-turbo's). Check each entry's source before you rely on it.`,
  };
}

function sumOf(values: readonly number[]): number {
  let total = 0;
  for (const value of values) total += value;
  return total;
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
  const selected = estimate.hosted.find((row) => row.selected && row.chosenTokensPerEpoch !== null);
  if (estimate.hosted.some((row) => row.chosenTokensPerEpoch !== null)) {
    lines.push("  (preference pairs: billed tokens count the prompt with the preferred and with the non-preferred answer, each epoch)");
    if (selected)
      lines.push(`  ${selected.model}: ${selected.chosenTokensPerEpoch} with the preferred + ${selected.rejectedTokensPerEpoch} with the non-preferred answer per epoch`);
  }
  if (estimate.local) {
    const local = estimate.local;
    const caps = [local.contextLength === null ? null : `context length ${local.contextLength}`, local.maxSeqLen === null ? null : `data.max_seq_len ${local.maxSeqLen}`].filter(
      (part) => part !== null,
    );
    lines.push(
      "",
      `local training with ${estimate.model}${local.trainingMethod ? ` (${local.trainingMethod})` : ""}:`,
      `  counted with: ${local.method}`,
      `  ${local.tokensProcessed} tokens processed (${local.tokensPerEpoch} per epoch${local.sequenceCap !== null ? `, each sequence capped at ${local.sequenceCap} (${caps.join(", ")})` : ""}${local.dpo ? `, plus ${local.dpo.referenceForwardTokens} reference tokens` : ""}), ${local.trainedTokensPerEpoch} trained tokens per epoch`,
    );
    if (local.truncatedExamples > 0) {
      lines.push(`  ${local.truncatedExamples} example(s) longer than ${local.sequenceCap} tokens: the worker truncates them (counted at ${local.sequenceCap})`);
    }
    if (local.dpo) {
      const dpo = local.dpo;
      lines.push(
        `  DPO, ${dpo.pairs} pairs: ${dpo.chosenTokensPerEpoch} tokens with the preferred answer + ${dpo.rejectedTokensPerEpoch} with the non-preferred answer per epoch, x ${estimate.epochs} epoch(s)`,
        `  reference model: ${dpo.referenceForwardTokens} tokens forward only, once (~${dpo.referenceTokenWeight.toFixed(2)} of a trained token each): ${local.computeTokens} compute tokens in all`,
      );
    }
    if (local.batchSize !== null) {
      lines.push(
        `  batch size ${local.batchSize}${local.stepsPerEpoch !== null ? `: ${local.stepsPerEpoch} steps per epoch, ${local.totalSteps} steps` : " (the worker picks it from the model size)"}`,
      );
    }
    lines.push(`  time: ${local.seconds === null ? "unknown" : formatDuration(local.seconds)} (${local.note})`);
  }
  lines.push("", estimate.priceNote);
  return lines.join("\n");
}
