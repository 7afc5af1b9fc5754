import type { Command } from "commander";
import { loadConfig, resolveConfigPath } from "../../core/config-load.js";
import { assess } from "../../eval/assess.js";
import { writeReport } from "../../eval/report/write-report.js";
import { action, printJson, repeatable } from "../output.js";
import { parseStrategiesOption } from "./eval.js";

export function registerAssess(program: Command): void {
  program
    .command("assess")
    .description("before training: data readiness, baselines (zero-shot, few-shot, RAG) on the test split, and the estimated fine-tuning cost")
    .argument("<file>", "training file (JSONL, JSON, CSV/TSV or Parquet); the held-out set is `data.test`")
    .option("-c, --config <file>", "run config", "tunekit.yaml")
    .option("--set <key=value>", "override a config field, e.g. --set eval.limit=20 (repeatable)", repeatable, [] as string[])
    .option("--strategies <list>", "comma-separated baselines: zero-shot,few-shot,rag (default: those in eval.strategies)")
    .option("--out <dir>", "report folder (default: eval.out, relative to the config file)")
    .option("--json", "print report.json on stdout", false)
    .action(
      action(async (file: string, options: { config: string; set: string[]; strategies?: string; out?: string; json: boolean }) => {
        const strategies = parseStrategiesOption(options.strategies, ["zero-shot", "few-shot", "rag"]);
        const loaded = loadConfig(options.config, options.set);
        const report = await assess({ loaded, trainFile: file, strategies, log: (line) => process.stderr.write(`${line}\n`) });
        const out = options.out ?? resolveConfigPath(loaded, loaded.config.eval.out);
        const files = await writeReport(report, out);
        if (options.json) printJson(report);
        else {
          const readiness = report.readiness as { ok: boolean; errors: number; warnings: number };
          process.stdout.write(
            `data: ${readiness.ok ? "ready" : "NOT ready"} (${readiness.errors} errors, ${readiness.warnings} warnings; \`tunekit data validate ${file}\` lists them)\n`,
          );
          process.stdout.write(`${report.recommendation.headline}\n${report.recommendation.cost}\n\nreport: ${files.html}\n`);
        }
        return 0;
      }),
    );
}
