import type { Command } from "commander";
import { loadConfig, resolveConfigPath, type LoadedConfig } from "../../core/config-load.js";
import { TunekitError } from "../../core/errors.js";
import { writeReport } from "../../eval/report/write-report.js";
import { runEval } from "../../eval/run-eval.js";
import type { StrategyName } from "../../eval/strategies.js";
import { action, printJson, repeatable } from "../output.js";
import { existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { resolveHosting } from "../../eval/cost-model.js";
import { RUN_FOLDERS } from "../../spec/run-folder.js";

const STRATEGIES: readonly StrategyName[] = ["zero-shot", "few-shot", "rag", "fine-tuned"];

/** `--strategies zero-shot,rag` -> the list, in the order given; names checked. */
export function parseStrategiesOption(value: string | undefined, allowed: readonly StrategyName[] = STRATEGIES): StrategyName[] | undefined {
  if (value === undefined) return undefined;
  const names = value
    .split(",")
    .map((name) => name.trim())
    .filter((name) => name.length > 0);
  const unknown = names.filter((name) => !allowed.includes(name as StrategyName));
  if (names.length === 0 || unknown.length > 0) {
    throw new TunekitError(`\`--strategies\` has ${unknown.length > 0 ? `unknown ${unknown.map((name) => `\`${name}\``).join(", ")}` : "no strategy"}`, {
      kind: "usage",
      code: "invalid_strategies",
      field: "--strategies",
      fix: `Pass a comma-separated list of ${allowed.join(", ")}.`,
    });
  }
  return [...new Set(names)] as StrategyName[];
}

export interface LocalServing {
  loaded: LoadedConfig;
  close(): Promise<void>;
}

/**
 * When an endpoint has no `base_url` and its model is a local file or folder, start Tunekit's own
 * server in this process (node-llama-cpp, no auth, loopback, a throwaway data folder) serving the base
 * model and the fine-tuned run's adapter under fixed ids, and point the config at it: eval then talks
 * to it through the openai SDK like to any other endpoint.
 */
export async function serveLocalModels(loaded: LoadedConfig, strategies: readonly StrategyName[], log: (line: string) => void): Promise<LocalServing> {
  const config = loaded.config;
  const evalConfig = config.eval;
  const base = path.isAbsolute(config.model) ? config.model : resolveConfigPath(loaded, config.model);
  const baseIsLocal = existsSync(base);
  const needsBase =
    strategies.some((strategy) => strategy !== "fine-tuned") &&
    evalConfig.base.base_url === null &&
    evalConfig.base.model === null &&
    baseIsLocal &&
    resolveHosting(config.model, evalConfig.base) === "local";
  const runDir = evalConfig.fine_tuned.run_dir === null ? null : resolveConfigPath(loaded, evalConfig.fine_tuned.run_dir);
  const needsFineTuned = strategies.includes("fine-tuned") && evalConfig.fine_tuned.endpoint.base_url === null && runDir !== null && baseIsLocal;
  if (!needsBase && !needsFineTuned) return { loaded, close: async () => {} };

  const { WorkerExporter } = await import("../../serve/worker-exporter.js");
  const { PythonWorkerBridge } = await import("../../providers/local/python-worker.js");
  const { startServer } = await import("../../server/tunekit-server.js");
  const exporter = new WorkerExporter(new PythonWorkerBridge());
  const workDir = mkdtempSync(path.join(tmpdir(), "tunekit-eval-serve-"));
  // llama.cpp serves GGUF: an HF folder base is converted once (kept next to the run when there is one)
  let baseGguf = base;
  if (statSync(base).isDirectory()) {
    const out = path.join(runDir ?? workDir, RUN_FOLDERS.export, "serve", "base-f16.gguf");
    if (!existsSync(out)) {
      log(`converting ${base} to GGUF for serving`);
      baseGguf = (await exporter.convertToGguf(base, out, "f16")).merged_gguf ?? out;
    } else baseGguf = out;
  }
  const baseId = "base";
  const fixed = [{ id: baseId, base: baseGguf, adapter: null as string | null }];
  const fineTunedId = evalConfig.fine_tuned.endpoint.model ?? `ft:${path.basename(base).replace(/\.gguf$/iu, "")}:eval:local`;
  if (needsFineTuned) {
    if (!existsSync(path.join(runDir!, RUN_FOLDERS.adapter))) {
      throw new TunekitError(`\`eval.fine_tuned.run_dir\` (${runDir}) has no adapter/ folder`, {
        kind: "config",
        code: "run_without_adapter",
        field: "eval.fine_tuned.run_dir",
        fix: "Point it at a finished `tunekit train` run (it holds adapter/ and summary.json), or set `eval.fine_tuned.endpoint.base_url` to a server that serves the fine-tuned model.",
      });
    }
    const out = path.join(runDir!, RUN_FOLDERS.export, "serve");
    let adapter = path.join(out, "adapter.gguf");
    if (!existsSync(adapter)) {
      log(`exporting the LoRA adapter of ${runDir} to GGUF for serving`);
      adapter = (await exporter.exportRun(runDir!, "gguf-adapter", out, { model: base })).adapter_gguf ?? adapter;
    }
    fixed.push({ id: fineTunedId, base: baseGguf, adapter });
  }
  const server = await startServer({ port: 0, dataDir: path.join(workDir, "data"), noAuth: true, maxConcurrentJobs: 0, serve: { parallelism: 1, maxQueue: 256, fixed } });
  log(`serving ${fixed.map((model) => model.id).join(" and ")} in process at ${server.url}/v1`);
  const url = `${server.url}/v1`;
  const patched = structuredClone(config);
  if (needsBase) patched.eval.base = { ...patched.eval.base, base_url: url, model: baseId };
  if (needsFineTuned) patched.eval.fine_tuned.endpoint = { ...patched.eval.fine_tuned.endpoint, base_url: url, model: fineTunedId };
  return {
    loaded: { ...loaded, config: patched },
    close: async () => {
      await server.close();
      rmSync(workDir, { recursive: true, force: true });
    },
  };
}

export function registerEval(program: Command): void {
  program
    .command("eval")
    .description("compare zero-shot, few-shot, RAG and the fine-tuned model on the test split; writes report.html, report.md and report.json")
    .option("-c, --config <file>", "run config", "tunekit.yaml")
    .option("--set <key=value>", "override a config field, e.g. --set eval.limit=20 (repeatable)", repeatable, [] as string[])
    .option("--strategies <list>", "comma-separated: zero-shot,few-shot,rag,fine-tuned (default: eval.strategies)")
    .option("--out <dir>", "report folder (default: eval.out, relative to the config file)")
    .option("--json", "print report.json on stdout", false)
    .action(
      action(async (options: { config: string; set: string[]; strategies?: string; out?: string; json: boolean }) => {
        const strategies = parseStrategiesOption(options.strategies);
        const loaded = loadConfig(options.config, options.set);
        const log = (line: string) => process.stderr.write(`${line}\n`);
        const serving = await serveLocalModels(loaded, strategies ?? loaded.config.eval.strategies, log);
        let report;
        try {
          report = await runEval({ loaded: serving.loaded, strategies, log });
        } finally {
          await serving.close();
        }
        const out = options.out ?? resolveConfigPath(loaded, loaded.config.eval.out);
        const files = await writeReport(report, out);
        if (options.json) printJson(report);
        else {
          process.stdout.write(`${report.recommendation.headline}\n\n`);
          for (const result of report.strategies) {
            const primary = report.metrics[0]!.name;
            const interval = result.metrics[primary]!;
            process.stdout.write(
              `  ${result.strategy.padEnd(11)} ${primary} ${interval.mean.toFixed(3)} [${interval.low.toFixed(3)}, ${interval.high.toFixed(3)}]  ` +
                `${result.tokens.meanPrompt.toFixed(0)} prompt tok  p50 ${result.latency.p50Ms.toFixed(0)} ms  ` +
                `${result.cost.per1000Requests === null ? "price unknown" : `${report.currency} ${result.cost.per1000Requests.toPrecision(3)} / 1k requests`}\n`,
            );
          }
          process.stdout.write(`\nreport: ${files.html}\n        ${files.markdown}\n        ${files.json}\n`);
        }
        return 0;
      }),
    );
}
