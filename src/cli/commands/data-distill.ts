import { Option, type Command } from "commander";
import { SingleBar } from "cli-progress";
import { TunekitError } from "../../core/errors.js";
import { CONVERT_SOURCE_FORMATS } from "../../data/convert/source-format.js";
import { distillDataset, type DistillProgressEvent, type DistillSummary } from "../../eval/distill/distill-dataset.js";
import { action, printJson } from "../output.js";

interface DistillCommandOptions {
  teacher: string;
  prompts: string;
  out: string;
  from?: string;
  map: string[];
  baseUrl?: string;
  api: string;
  apiKeyEnv?: string;
  azureApiVersion?: string;
  concurrency: string;
  maxTokens?: string;
  temperature: string;
  seed?: string;
  system?: string;
  priceInput?: string;
  priceOutput?: string;
  maxRetries: string;
  timeout: string;
  json: boolean;
}

const PROBLEMS_SHOWN = 10;

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function wholeNumber(flag: string, value: string, minimum: number, example: string): number {
  const parsed = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(parsed) || parsed < minimum) {
    throw new TunekitError(`\`${flag}\` must be a whole number >= ${minimum}; got \`${value}\``, {
      kind: "usage",
      code: "invalid_number",
      field: flag,
      fix: `pass e.g. ${flag} ${example}`,
    });
  }
  return parsed;
}

function decimal(flag: string, value: string, minimum: number, maximum: number, example: string): number {
  const parsed = Number(value);
  if (value.trim() === "" || !Number.isFinite(parsed) || parsed < minimum || parsed > maximum) {
    throw new TunekitError(`\`${flag}\` must be a number from ${minimum}${Number.isFinite(maximum) ? ` to ${maximum}` : " up"}; got \`${value}\``, {
      kind: "usage",
      code: "invalid_number",
      field: flag,
      fix: `pass e.g. ${flag} ${example}`,
    });
  }
  return parsed;
}

export function registerDataDistill(parent: Command): void {
  parent
    .command("distill")
    .description("have a teacher model behind any OpenAI-compatible endpoint answer prompts, and write its answers as chat training data (resumable)")
    .requiredOption("--teacher <model>", "the model that answers: an OpenAI model, an `ft:` model about to be retired, a Tunekit or vLLM model id, an Azure deployment")
    .requiredOption("--prompts <file>", 'prompts: chat rows (the last assistant turn is replaced), {"prompt": ...} rows, or csv/tsv/json/parquet records')
    .requiredOption("--out <file>", "chat JSONL to write; rerunning the same command resumes it")
    .option("--from <format>", `format of --prompts: ${CONVERT_SOURCE_FORMATS.join(", ")} (default: from its extension)`)
    .addOption(
      new Option("--map <column=field>", "which column holds the prompt of tabular data: user (or prompt) or system; repeat it")
        .argParser(collect)
        .default([], "the columns named prompt or user, and system"),
    )
    .option("--base-url <url>", "OpenAI-compatible base URL, e.g. http://127.0.0.1:8000/v1 for `tunekit server` (default: https://api.openai.com/v1)")
    .addOption(
      new Option("--api <api>", "openai: the OpenAI SDK against --base-url; azure: AzureOpenAI, --base-url the resource endpoint, --teacher the deployment")
        .choices(["openai", "azure"])
        .default("openai"),
    )
    .option(
      "--api-key-env <name>",
      "environment variable holding the key (default: OPENAI_API_KEY, or AZURE_OPENAI_API_KEY with --api azure); a local server without keys needs none",
    )
    .option("--azure-api-version <version>", "Azure OpenAI API version (default: 2024-10-21)")
    .option("--concurrency <n>", "requests in flight at most; lowered by itself while the teacher answers 429", "4")
    .option("--max-tokens <n>", "max_tokens of each answer (default: the teacher's own)")
    .option("--temperature <t>", "sampling temperature", "0")
    .option("--seed <n>", "seed sent with every request (teachers that support it answer reproducibly)")
    .option("--system <text>", "system message prepended to prompts that have none")
    .option("--price-input <usd>", "price per 1M prompt tokens (default: the inference price table Tunekit ships, for hosted OpenAI models)")
    .option("--price-output <usd>", "price per 1M completion tokens")
    .option("--max-retries <n>", "retries of one prompt after a 429, a 5xx, a timeout or a dropped connection", "8")
    .option("--timeout <seconds>", "per request", "300")
    .option("--json", "print the summary as JSON", false)
    .addHelpText(
      "after",
      `
Examples:
  # turn a fine-tuned OpenAI model that is being retired into training data for its replacement
  tunekit data distill --teacher ft:gpt-4o-mini-2024-07-18:acme:support:abc123 --prompts prompts.jsonl --out distilled.jsonl
  # a model served by tunekit server (or tunekit serve, vLLM) on this machine; no key needed with --no-auth
  tunekit data distill --teacher tiny-llama --base-url http://127.0.0.1:8000/v1 --prompts questions.csv --map question=user --out d.jsonl
  # an Azure OpenAI deployment
  tunekit data distill --api azure --base-url https://acme.openai.azure.com/ --teacher gpt-4o --prompts p.jsonl --out d.jsonl

Each answered prompt is one complete line of --out, written in the order answers arrive, with its
source row recorded in OUT.distill-progress. Stopped any way (Ctrl-C, kill -9, a crash), the same
command resumes: a partial last line is cut, answered prompts are skipped, nothing is written twice.
Failed prompts are retried by the next run. Every prompt is checked before the first request, and
every row with the toolkit's validator before it is written (an answer that would make an invalid
row is not written). A 429 is waited out (Retry-After, retry-after-ms) and retried, and the number
of requests in flight drops to what the teacher accepts. 401, 403, 404 and insufficient_quota stop
the run with one error. The summary (tokens, cost, throughput, 429s) is also written to
OUT.distill-summary.json.
Exit status: 0 every prompt answered, 1 some failed or a teacher error, 2 usage error, 130 interrupted.`,
    )
    .action(
      action(async (options: DistillCommandOptions) => {
        if ((options.priceInput === undefined) !== (options.priceOutput === undefined)) {
          const missing = options.priceInput === undefined ? "--price-input" : "--price-output";
          throw new TunekitError(`\`${missing}\` is missing: a price needs both figures`, {
            kind: "usage",
            code: "incomplete_price",
            field: missing,
            fix: "pass both --price-input and --price-output (USD per 1M tokens), or neither",
          });
        }
        const controller = new AbortController();
        const onInterrupt = (): void => controller.abort();
        process.once("SIGINT", onInterrupt);
        process.once("SIGTERM", onInterrupt);
        const progress = options.json ? null : new ProgressPrinter();
        let summary: DistillSummary;
        try {
          summary = await distillDataset({
            teacher: options.teacher,
            prompts: options.prompts,
            output: options.out,
            from: options.from,
            map: options.map,
            baseUrl: options.baseUrl ?? null,
            api: options.api as "openai" | "azure",
            apiKeyEnv: options.apiKeyEnv,
            azureApiVersion: options.azureApiVersion,
            concurrency: wholeNumber("--concurrency", options.concurrency, 1, "4"),
            maxTokens: options.maxTokens === undefined ? undefined : wholeNumber("--max-tokens", options.maxTokens, 1, "512"),
            temperature: decimal("--temperature", options.temperature, 0, 2, "0"),
            seed: options.seed === undefined ? undefined : wholeNumber("--seed", options.seed, 0, "42"),
            system: options.system,
            priceInput: options.priceInput === undefined ? undefined : decimal("--price-input", options.priceInput, 0, Infinity, "0.15"),
            priceOutput: options.priceOutput === undefined ? undefined : decimal("--price-output", options.priceOutput, 0, Infinity, "0.6"),
            maxRetries: wholeNumber("--max-retries", options.maxRetries, 0, "8"),
            timeoutMs: decimal("--timeout", options.timeout, 1, Infinity, "300") * 1000,
            signal: controller.signal,
            onProgress: progress ? (event) => progress.update(event) : undefined,
            onNotice: (message) => process.stderr.write(`note: ${message}\n`),
          });
        } finally {
          progress?.stop();
          process.removeListener("SIGINT", onInterrupt);
          process.removeListener("SIGTERM", onInterrupt);
        }
        if (options.json) printJson(summary);
        else printSummary(summary);
        if (summary.interrupted) return 130;
        return summary.failed + summary.rejected > 0 ? 1 : 0;
      }),
    );
}

/** A bar on a terminal; on a pipe, a line every 10 s (logs stay readable). */
class ProgressPrinter {
  private bar: SingleBar | null = null;
  private readonly tty = Boolean(process.stderr.isTTY);
  private lastLine = 0;

  update(event: DistillProgressEvent): void {
    const payload = { failed: event.failed, limited: event.rate_limited, inflight: event.concurrency };
    if (this.tty) {
      if (this.bar === null) {
        this.bar = new SingleBar({
          format: "distill [{bar}] {value}/{total} prompts | {failed} failed | {limited} x 429 | concurrency {inflight}",
          stream: process.stderr,
          hideCursor: true,
        });
        this.bar.start(event.total, event.done, payload);
      }
      this.bar.update(event.done, payload);
      return;
    }
    const now = Date.now();
    if (now - this.lastLine < 10_000 && event.done < event.total) return;
    this.lastLine = now;
    process.stderr.write(`distill: ${event.done}/${event.total} prompts, ${event.failed} failed, ${event.rate_limited} x 429, concurrency ${event.concurrency}\n`);
  }

  stop(): void {
    this.bar?.stop();
  }
}

function printSummary(summary: DistillSummary): void {
  const shown = summary.problems.slice(0, PROBLEMS_SHOWN);
  for (const problem of shown) process.stderr.write(`  - ${problem.message}\n`);
  const more = summary.problems.length + summary.problems_omitted - shown.length;
  if (more > 0) process.stderr.write(`  … and ${more} more (the summary file lists ${summary.problems.length})\n`);
  const lines = [
    `distilled ${summary.answered} prompt${summary.answered === 1 ? "" : "s"} with ${summary.teacher} into ${summary.output}` +
      (summary.already_done > 0 ? ` (${summary.already_done} already there, resumed)` : "") +
      `: ${summary.prompts_total - summary.remaining}/${summary.prompts_total} done`,
    `  teacher tokens: ${summary.usage.prompt_tokens} prompt + ${summary.usage.completion_tokens} completion this run; cost ${summary.cost.this_run === null ? "not priced" : `$${summary.cost.this_run}`} (${summary.cost.basis})`,
    `  ${summary.requests_per_second} requests/s, ${summary.completion_tokens_per_second} completion tokens/s over ${summary.wall_seconds} s; ${summary.rate_limited} x 429 waited out, concurrency ${summary.concurrency.final} of ${summary.concurrency.max}`,
  ];
  if (summary.truncated > 0) lines.push(`  warning: ${summary.truncated} answers stopped at --max-tokens (finish_reason length); raise it for whole answers`);
  if (summary.failed + summary.rejected > 0) {
    lines.push(`  ${summary.failed} failed, ${summary.rejected} rejected (invalid rows); first: ${summary.problems[0]?.message ?? "?"}; rerun the same command to retry them`);
  }
  if (summary.interrupted) lines.push("  interrupted: rerun the same command to resume");
  lines.push(`  summary: ${summary.summary_file}`);
  process.stdout.write(`${lines.join("\n")}\n`);
}
