import { readFile } from "node:fs/promises";
import { withFix } from "../data/validate/problem-codes.js";
import path from "node:path";
import type { LoadedConfig } from "../core/config-load.js";
import { resolveConfigPath } from "../core/config-load.js";
import { estimateTraining } from "../data/estimate/estimate-training.js";
import { defaultPriceTable } from "../data/estimate/price-table.js";
import { loadTokenCounter } from "../data/tokens/load-token-counter.js";
import { RUN_FILES } from "../spec/run-folder.js";
import { validateFile } from "../data/validate/validate-file.js";
import type { FineTuningCost } from "./cost-model.js";
import { resolveHosting } from "./cost-model.js";
import { runEval, type EvalReport } from "./run-eval.js";
import type { StrategyName } from "./strategies.js";

export interface AssessOptions {
  loaded: LoadedConfig;
  trainFile: string;
  strategies?: StrategyName[];
  log?: (line: string) => void;
}

/** Estimated cost of fine-tuning on `trainFile`: hosted price from the table, or local time from a measured throughput. */
export async function estimateFineTuningCost(loaded: LoadedConfig, trainFile: string): Promise<FineTuningCost> {
  const config = loaded.config;
  const counter = await loadTokenCounter(config.model);
  const estimate = await estimateTraining({ file: trainFile, model: config.model, counter, epochs: config.training.epochs, prices: defaultPriceTable() });
  const hosted = estimate.hosted.find((entry) => entry.selected);
  if (hosted && (config.provider !== "local" || resolveHosting(config.model, config.eval.fine_tuned.endpoint) === "hosted")) {
    return {
      cost: hosted.cost,
      basis: `estimated: ${hosted.billedTokens.toLocaleString("en-US")} billed tokens (${estimate.epochs} epochs) x ${hosted.pricePerMillion}/1M for ${hosted.model}`,
      trainingTokens: hosted.billedTokens,
      trainingSeconds: null,
    };
  }
  const local = estimate.local;
  let tokensPerSecond: number | null = null;
  if (config.eval.fine_tuned.run_dir !== null) {
    const summary = JSON.parse(await readFile(path.join(resolveConfigPath(loaded, config.eval.fine_tuned.run_dir), RUN_FILES.summary), "utf8").catch(() => "{}")) as {
      tokens_per_second?: number;
    };
    tokensPerSecond = summary.tokens_per_second ?? null;
  }
  if (!local || tokensPerSecond === null) {
    return {
      cost: null,
      basis: `${local ? `${local.tokensProcessed.toLocaleString("en-US")} tokens to process (${estimate.epochs} epochs)` : "tokens unknown"}; time unknown until a run measures throughput (set \`eval.fine_tuned.run_dir\` to a short run)`,
      trainingTokens: local?.tokensProcessed ?? null,
      trainingSeconds: null,
    };
  }
  const seconds = local.tokensProcessed / tokensPerSecond;
  const hourPrice = config.eval.fine_tuned.endpoint.hour_price;
  return {
    cost: (seconds / 3600) * hourPrice,
    basis: `estimated: ${local.tokensProcessed.toLocaleString("en-US")} tokens (${estimate.epochs} epochs) at ${tokensPerSecond.toFixed(1)} tokens/s measured = ${(seconds / 60).toFixed(1)} min x ${hourPrice} per machine-hour`,
    trainingTokens: local.tokensProcessed,
    trainingSeconds: seconds,
  };
}

/** The pre-training half: data readiness (validate + token stats), baselines and the estimated fine-tuning cost. */
export async function assess(options: AssessOptions): Promise<EvalReport> {
  const { loaded } = options;
  const trainFile = path.resolve(options.trainFile);
  const log = options.log ?? (() => {});
  log(`validating ${options.trainFile}`);
  const counter = await loadTokenCounter(loaded.config.model).catch(() => undefined);
  const validation = await validateFile(trainFile, { format: loaded.config.data.format, ...(counter && { tokenCounter: counter }), threads: 0 });
  const fineTuningCost = await estimateFineTuningCost(loaded, trainFile).catch((error: unknown) => ({
    cost: null,
    basis: `not estimated: ${error instanceof Error ? error.message : String(error)}`,
    trainingTokens: null,
    trainingSeconds: null,
  }));
  const baselines = (options.strategies ?? loaded.config.eval.strategies.filter((strategy) => strategy !== "fine-tuned")) as StrategyName[];
  const withTrain: LoadedConfig = { ...loaded, config: { ...loaded.config, data: { ...loaded.config.data, train: trainFile } } };
  const report = await runEval({ loaded: withTrain, strategies: baselines.length > 0 ? baselines : ["zero-shot"], kind: "assess", log, fineTuningCost });
  report.readiness = {
    ok: validation.ok,
    errors: validation.errors.length,
    warnings: validation.warnings.length,
    problems: [...validation.errors, ...validation.warnings].slice(0, 20).map(withFix),
    stats: validation.stats,
  };
  return report;
}
