import type { Command } from "commander";
import { TunekitError } from "../../core/errors.js";
import { action, printJson } from "../output.js";
import { parseDayOption } from "./estimate.js";

/**
 * `tunekit migrate openai`: leave OpenAI fine-tuning with the jobs, the data and a model at least
 * as good. `tunekit migrate parity`: show it. The work is in src/providers/openai/migration and
 * src/eval/parity.ts; this file parses flags and prints.
 */

interface OpenAiFlags {
  openaiBaseUrl?: string;
  openaiKeyEnv: string;
}

interface ServerFlags {
  server?: string;
  apiKey?: string;
}

export interface MigrateFlags extends OpenAiFlags, ServerFlags {
  out: string;
  model?: string;
  local: boolean;
  all: boolean;
  keepLrMultiplier: boolean;
  dryRun: boolean;
  wait: boolean;
  parity: boolean;
  neededUntil?: string;
  heldOut: string;
  seed: string;
  json: boolean;
}

export interface ParityFlags extends OpenAiFlags, ServerFlags {
  limit?: string;
  metrics?: string;
  maxTokens: string;
  tolerance: string;
  wait: boolean;
  json: boolean;
}

function positiveInteger(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const parsed = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(parsed) || parsed < 1) {
    throw new TunekitError(`\`${flag}\` must be a whole number >= 1, got \`${value}\``, { kind: "usage", code: "invalid_number", field: flag, fix: `pass e.g. ${flag} 50` });
  }
  return parsed;
}

function wholeNumber(flag: string, value: string): number {
  const parsed = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(parsed)) {
    throw new TunekitError(`\`${flag}\` must be a whole number >= 0, got \`${value}\``, { kind: "usage", code: "invalid_number", field: flag, fix: `pass e.g. ${flag} 42` });
  }
  return parsed;
}

function fraction(flag: string, value: string, { min, max }: { min: number; max: number }): number {
  const parsed = Number(value);
  if (value.trim() === "" || !Number.isFinite(parsed) || parsed < min || parsed >= max) {
    throw new TunekitError(`\`${flag}\` must be a number in [${min}, ${max}), got \`${value}\``, {
      kind: "usage",
      code: "invalid_number",
      field: flag,
      fix: `pass e.g. ${flag} 0.1`,
    });
  }
  return parsed;
}

function withOpenAiOptions(command: Command): Command {
  return command
    .option("--openai-base-url <url>", "the OpenAI API to migrate from (default: $OPENAI_BASE_URL, else https://api.openai.com/v1)")
    .option("--openai-key-env <name>", "environment variable with the OpenAI API key", "OPENAI_API_KEY")
    .option("--server <url>", "Tunekit server that trains the new jobs (default: $TUNEKIT_SERVER, else http://127.0.0.1:8000)")
    .option("--api-key <key>", "Tunekit server API key (env TUNEKIT_API_KEY)")
    .option("--json", "print the result as JSON", false);
}

export function registerMigrate(program: Command): void {
  const migrate = program.command("migrate").description("move fine-tuning jobs, data and models from a hosted provider to Tunekit, and check the new models are as good");

  withOpenAiOptions(
    migrate
      .command("openai")
      .description("copy OpenAI fine-tuning jobs: download their files, record their settings, pick an open base model and create the matching Tunekit jobs")
      .argument("[job-ids...]", "ftjob-... ids to migrate (default: every succeeded job of the organisation)"),
  )
    .option("--out <dir>", "folder that receives one sub-folder per job (files, settings, migration.json, parity report)", "openai-migration")
    .option("--model <id>", "base model for every new job instead of the proposal (a model the server offers; with --local, a local model path)")
    .option("--local", "create no server job: write a tunekit.yaml per job for `tunekit train -c` (needs --model)", false)
    .option("--all", "also migrate jobs that did not succeed (they have no model to compare against)", false)
    .option("--keep-lr-multiplier", "carry OpenAI's learning_rate_multiplier over instead of Tunekit's `auto`", false)
    .option("--dry-run", "download and propose, but create no job", false)
    .option("--wait", "wait until the new jobs finish", false)
    .option("--parity", "after they finish, write each job's parity report (implies --wait)", false)
    .option("--held-out <fraction>", "share of the training file held out for validation and parity when a job has no validation file", "0.1")
    .option("--seed <n>", "seed of that held-out split", "42")
    .option("--needed-until <date>", "warn when the old model stops answering before this day (YYYY-MM-DD)")
    .addHelpText(
      "after",
      `
For each job it writes <out>/<job-id>/: the training and validation files as OpenAI holds them,
openai-job.json (the job as retrieved), and migration.json (settings, the proposed base model with
the reasons, the settings table, the new job). A job without a validation file gets a seeded
held-out split of its training file: the new job trains on the rest, and the parity report scores
both models on it (the old model trained on those examples, which favours it).

The proposed base model is the largest one the server offers that fits memory, preferring those
whose training window holds every example; the server's own estimate decides (POST /v1/tunekit/estimate).

Examples:
  OPENAI_API_KEY=sk-... tunekit migrate openai --server http://127.0.0.1:8000 --parity
  tunekit migrate openai ftjob-abc123 --dry-run --json
  tunekit migrate openai ftjob-abc123 --local --model ./models/SmolLM2-360M-Instruct
  tunekit migrate parity openai-migration/ftjob-abc123`,
    )
    .action(
      action(async (jobIds: string[], options: MigrateFlags) => {
        const neededUntil = parseDayOption(options.neededUntil, "--needed-until");
        const heldOut = fraction("--held-out", options.heldOut, { min: 0, max: 0.5 });
        const seed = wholeNumber("--seed", options.seed);
        if (options.local && !options.model) {
          throw new TunekitError("`--local` needs `--model`: without a server there is no catalogue to propose a base model from", {
            kind: "usage",
            code: "missing_model",
            field: "--model",
            fix: "pass --model <local model folder or .gguf>, or drop --local and pass --server URL",
          });
        }
        if (options.local && (options.wait || options.parity)) {
          throw new TunekitError("`--wait` and `--parity` follow server jobs; `--local` creates none", {
            kind: "usage",
            code: "invalid_options",
            field: "--local",
            fix: "run `tunekit train -c <out>/<job>/tunekit.yaml`, serve the result, then `tunekit migrate parity`",
          });
        }
        const [{ migrateOpenAiJobs, formatMigration }, { migrationParity }] = await Promise.all([
          import("../../providers/openai/migration/migrate-openai-jobs.js"),
          import("../../eval/migration-parity.js"),
        ]);
        const log = options.json ? () => {} : (line: string) => process.stderr.write(`${line}\n`);
        const openai = { baseURL: options.openaiBaseUrl ?? process.env.OPENAI_BASE_URL, keyEnv: options.openaiKeyEnv };
        const server = { server: options.server, apiKey: options.apiKey };
        const result = await migrateOpenAiJobs({
          jobIds,
          out: options.out,
          openai,
          server: options.local ? null : server,
          model: options.model ?? null,
          includeUnsucceeded: options.all,
          keepLearningRateMultiplier: options.keepLrMultiplier,
          dryRun: options.dryRun,
          wait: options.wait || options.parity,
          parity: options.parity,
          runParity: async (folder) => {
            const { report, files } = await migrationParity({ folder, openai, server, limit: null, maxTokens: 256, tolerance: 0.02, wait: false, log });
            return { verdict: report.verdict, conclusion: report.conclusion, report: files.html };
          },
          heldOut,
          seed,
          neededUntil,
          log,
        });
        if (options.json) printJson(result);
        else process.stdout.write(`${formatMigration(result)}\n`);
        return result.jobs.some((job) => job.error !== null) ? 1 : 0;
      }),
    );

  withOpenAiOptions(
    migrate
      .command("parity")
      .description(
        "score the old (OpenAI) and new (Tunekit) fine-tuned models on the same held-out examples: quality with intervals, price per 1,000 requests, latency, and a verdict",
      )
      .argument("<folder>", "a job's folder from `tunekit migrate openai` (<out>/<job-id>)"),
  )
    .option("--limit <n>", "score only the first N held-out examples")
    .option("--metrics <list>", "comma-separated eval metrics, the first is primary (default: normalized-match,token-f1,rouge-l)")
    .option("--max-tokens <n>", "most completion tokens per answer", "256")
    .option("--tolerance <x>", "primary-metric difference that still counts as equivalent", "0.02")
    .option("--wait", "wait for the new job to finish first", false)
    .addHelpText(
      "after",
      `
Writes <folder>/parity/report.html, report.md and report.json. The verdict is on the paired
difference (new - old) of the primary metric: "worse, by X" when it is below -tolerance,
"better, by X" when it is above tolerance with its interval above 0, else "equivalent".
Both models must still answer: run it before the old model's shutdown date.

Example:
  OPENAI_API_KEY=sk-... tunekit migrate parity openai-migration/ftjob-abc123 --server http://127.0.0.1:8000`,
    )
    .action(
      action(async (folder: string, options: ParityFlags) => {
        const limit = positiveInteger("--limit", options.limit);
        const maxTokens = positiveInteger("--max-tokens", options.maxTokens)!;
        const tolerance = fraction("--tolerance", options.tolerance, { min: 0, max: 1 });
        const metrics = options.metrics
          ?.split(",")
          .map((name) => name.trim())
          .filter(Boolean);
        const { migrationParity } = await import("../../eval/migration-parity.js");
        const log = options.json ? () => {} : (line: string) => process.stderr.write(`${line}\n`);
        const outcome = await migrationParity({
          folder,
          openai: { baseURL: options.openaiBaseUrl ?? process.env.OPENAI_BASE_URL, keyEnv: options.openaiKeyEnv },
          server: { server: options.server, apiKey: options.apiKey },
          limit: limit ?? null,
          metrics,
          maxTokens,
          tolerance,
          wait: options.wait,
          log,
        });
        if (options.json) printJson({ files: outcome.files, verdict: outcome.report.verdict, conclusion: outcome.report.conclusion, difference: outcome.report.difference });
        else process.stdout.write(`${outcome.report.conclusion}\nreport: ${outcome.files.html}\n`);
        return 0;
      }),
    );
}
