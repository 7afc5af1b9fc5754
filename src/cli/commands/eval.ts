import type { Command } from "commander";
import { loadConfig, resolveConfigPath } from "../../core/config-load.js";
import { TunekitError } from "../../core/errors.js";
import { writeReport } from "../../eval/report/write-report.js";
import { runEval } from "../../eval/run-eval.js";
import type { StrategyName } from "../../eval/strategies.js";
import { action, printJson } from "../output.js";

const STRATEGIES: readonly StrategyName[] = ["zero-shot", "few-shot", "rag", "fine-tuned"];

/** `--strategies zero-shot,rag` -> the list, in the order given; names checked. */
export function parseStrategiesOption(value: string | undefined, allowed: readonly StrategyName[] = STRATEGIES): StrategyName[] | undefined {
  if (value === undefined) return undefined;
  const names = value.split(",").map((name) => name.trim()).filter((name) => name.length > 0);
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

export function registerEval(program: Command): void {
  program
    .command("eval")
    .description("compare zero-shot, few-shot, RAG and the fine-tuned model on the test split; writes report.html, report.md and report.json")
    .option("-c, --config <file>", "run config", "tunekit.yaml")
    .option("--set <key=value...>", "override a config field, e.g. --set eval.limit=20", [])
    .option("--strategies <list>", "comma-separated: zero-shot,few-shot,rag,fine-tuned (default: eval.strategies)")
    .option("--out <dir>", "report folder (default: eval.out, relative to the config file)")
    .option("--json", "print report.json on stdout", false)
    .action(
      action(async (options: { config: string; set: string[]; strategies?: string; out?: string; json: boolean }) => {
        const strategies = parseStrategiesOption(options.strategies);
        const loaded = loadConfig(options.config, options.set);
        const report = await runEval({ loaded, strategies, log: (line) => process.stderr.write(`${line}\n`) });
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
