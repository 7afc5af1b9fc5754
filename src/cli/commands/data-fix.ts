import { mkdirSync, realpathSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import type { Command } from "commander";
import { TunekitError } from "../../core/errors.js";
import { assertInputFile } from "../../core/input-file.js";
import type { FixReason, FixReport, RemovedLine } from "../../data/fix/fix-dataset.js";
import { action, printJson, refuseToOverwrite } from "../output.js";

interface FixCommandOptions {
  model?: string;
  maxTokens?: string;
  validation?: string;
  keepInvalid: boolean;
  keepDuplicates: boolean;
  keepNearDuplicates: boolean;
  keepBom: boolean;
  force: boolean;
  json: boolean;
}

/** what the text report lists of each code before "and N more" */
const LINES_SHOWN_PER_CODE = 20;

/** Exit status when every line was dropped: nothing was written, the data needs a person (problems found). */
export const NOTHING_KEPT_EXIT = 1;

export function registerDataFix(parent: Command): void {
  parent
    .command("fix")
    .description("write a cleaned copy of a JSONL dataset: drop invalid lines, duplicates, over-long examples and validation overlap; IN is never changed")
    .argument("<in>", "dataset file (JSONL), read only")
    .argument("<out>", "where the cleaned copy goes (a new path; `--force` replaces an existing file, never IN)")
    .option("--model <model>", "drop examples longer than this model's context (OpenAI name, HF folder or .gguf); off without it")
    .option("--max-tokens <n>", "the context to check against instead of the model's own (e.g. your `data.max_seq_len`); needs --model for the tokenizer")
    .option("--validation <file>", "drop training examples whose prompt is also in this validation file; off without it")
    .option("--keep-invalid", "keep lines with errors and blank lines", false)
    .option("--keep-duplicates", "keep exact repeats of an earlier example", false)
    .option("--keep-near-duplicates", "keep near-duplicates, MinHash Jaccard >= 0.8", false)
    .option("--keep-bom", "keep a UTF-8 byte order mark at the start", false)
    .option("--force", "replace OUT when it exists", false)
    .option("--json", "print the report as JSON, with every dropped line", false)
    .addHelpText(
      "after",
      `
Defaults: invalid and blank lines, exact and near duplicates, and the byte order mark are dropped;
over-long examples only with --model, validation overlap only with --validation. "Invalid" means
exactly what \`tunekit data validate\` reports as an error. Kept lines are copied byte for byte and
in order. OUT is written to OUT.partial and renamed when complete: it appears whole or not at all.

Exit status: 0 OUT written (the problems listed were dropped), 1 nothing could be kept (every line
was dropped; OUT is not written), 2 usage or input error (IN missing or not JSONL, OUT exists, OUT is IN).`,
    )
    .action(
      action(async (input: string, output: string, options: FixCommandOptions) => {
        await assertInputFile(input, "<in>");
        if (options.validation !== undefined) await assertInputFile(options.validation, "--validation");
        refuseSamePath(input, output, "<in>");
        if (options.validation !== undefined) refuseSamePath(options.validation, output, "--validation");
        await refuseNonJsonl(input);
        const maxTokens = options.maxTokens === undefined ? undefined : positiveWhole(options.maxTokens, "--max-tokens");
        if (maxTokens !== undefined && options.model === undefined) {
          throw new TunekitError("`--max-tokens` needs `--model`: the model's tokenizer counts the tokens", {
            kind: "usage",
            code: "invalid_option",
            field: "--max-tokens",
            fix: "add --model <model>, e.g. --model gpt-4o-mini or --model ./models/<folder>",
          });
        }
        refuseToOverwrite([output], options.force);

        let contextLimit: { counter: Awaited<ReturnType<typeof loadCounter>>; maxTokens: number } | null = null;
        if (options.model !== undefined) {
          const counter = await loadCounter(options.model);
          const limit = maxTokens ?? counter.contextLength;
          if (!limit) {
            throw new TunekitError(`the context length of \`${options.model}\` is unknown`, {
              kind: "usage",
              code: "unknown_context_length",
              field: "--model",
              fix: "pass `--max-tokens N` (e.g. your `data.max_seq_len`)",
            });
          }
          contextLimit = { counter, maxTokens: limit };
        }

        mkdirSync(dirname(resolve(output)), { recursive: true });
        const { fixDataset } = await import("../../data/fix/fix-dataset.js");
        const report = await fixDataset({
          input,
          output,
          dropInvalid: !options.keepInvalid,
          dropDuplicates: !options.keepDuplicates,
          dropNearDuplicates: !options.keepNearDuplicates,
          contextLimit,
          removeOverlapWith: options.validation ?? null,
          stripBom: !options.keepBom,
          detailed: true,
          skipEmptyOutput: true,
        });
        // with skipEmptyOutput, nothing kept means nothing written
        const written = report.kept > 0;
        const fixes = {
          drop_invalid: !options.keepInvalid,
          drop_duplicates: !options.keepDuplicates,
          drop_near_duplicates: !options.keepNearDuplicates,
          strip_bom: !options.keepBom,
          drop_over_context: contextLimit ? { model: options.model, max_tokens: contextLimit.maxTokens } : null,
          remove_overlap_with: options.validation ?? null,
        };
        if (options.json) {
          printJson({
            input: report.input,
            output: written ? report.output : null,
            written,
            lines: report.lines,
            kept: report.kept,
            dropped: report.lines - report.kept,
            removed: report.removed,
            by_code: countByCode(report.removedLines),
            removed_lines: report.removedLines,
            bom_stripped: report.bomStripped,
            fixes,
          });
        } else {
          process.stdout.write(formatFixReport(report, written, contextLimit?.maxTokens ?? null));
        }
        return written ? 0 : NOTHING_KEPT_EXIT;
      }),
    );
}

async function loadCounter(model: string) {
  const { loadTokenCounter } = await import("../../data/tokens/load-token-counter.js");
  return loadTokenCounter(model);
}

/** OUT must be a new file, not IN under another name (a symlink or a hard link included). */
function refuseSamePath(input: string, output: string, field: string): void {
  const same = (() => {
    if (resolve(input) === resolve(output)) return true;
    try {
      if (realpathSync(input) === realpathSync(output)) return true;
      const a = statSync(input);
      const b = statSync(output);
      return a.dev === b.dev && a.ino === b.ino;
    } catch {
      return false; // OUT does not exist yet
    }
  })();
  if (same) {
    throw new TunekitError(`OUT \`${output}\` is ${field === "<in>" ? "IN" : `the ${field} file`}: \`data fix\` writes a new file and never edits its input`, {
      kind: "usage",
      code: "output_is_input",
      field: "<out>",
      file: output,
      fix: `write the cleaned copy elsewhere, e.g. \`tunekit data fix ${input} ${suggestedOutput(input)}\``,
    });
  }
}

function suggestedOutput(input: string): string {
  return /\.jsonl$/i.test(input) ? input.replace(/\.jsonl$/i, ".fixed.jsonl") : `${input}.fixed.jsonl`;
}

/** A table, JSON array or binary file is not fixed line by line: say so in one line. */
async function refuseNonJsonl(input: string): Promise<void> {
  const { sniffDatasetFile } = await import("../../data/sniff-dataset-file.js");
  const sniffed = await sniffDatasetFile(input, input);
  if (sniffed.kind === "jsonl") return;
  if (sniffed.kind === "table") {
    const what = sniffed.container === "json" ? "a JSON array" : `a ${sniffed.container.toUpperCase()} file`;
    throw new TunekitError(`\`${input}\` is ${what}, not JSON Lines: \`data fix\` cleans JSONL line by line`, {
      kind: "usage",
      code: "needs_conversion",
      file: input,
      field: "<in>",
      fix: `convert it first: \`tunekit data convert ${input} data.jsonl --map <column>=user --map <column>=assistant\`, then \`tunekit data fix data.jsonl data.fixed.jsonl\``,
    });
  }
  if (sniffed.kind === "empty") {
    throw new TunekitError(`\`${input}\` is empty (0 bytes): there is nothing to fix`, {
      kind: "usage",
      code: "empty_file",
      file: input,
      field: "<in>",
      fix: "export the dataset again",
    });
  }
  throw new TunekitError(`\`${input}\` is not a text dataset: ${sniffed.reason}`, {
    kind: "usage",
    code: "binary_file",
    file: input,
    field: "<in>",
    fix: "pass a UTF-8 JSONL file",
  });
}

function positiveWhole(value: string, flag: string): number {
  const parsed = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(parsed) || parsed < 1) {
    throw new TunekitError(`\`${flag}\` must be a whole number of tokens >= 1, got \`${value}\``, {
      kind: "usage",
      code: "invalid_option",
      field: flag,
      fix: `pass e.g. ${flag} 2048`,
    });
  }
  return parsed;
}

function countByCode(lines: readonly RemovedLine[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const line of lines) if (line.code) counts[line.code] = (counts[line.code] ?? 0) + 1;
  return counts;
}

const REASON_WORDS: Record<FixReason, string> = {
  invalid: "invalid",
  blank: "blank line",
  duplicate: "exact duplicate",
  near_duplicate: "near duplicate",
  over_context: "over the context",
  validation_overlap: "prompt also in the validation file",
};

/** Human report: what was written, then each code with its lines. */
export function formatFixReport(report: FixReport, written: boolean, maxTokens: number | null): string {
  const dropped = report.lines - report.kept;
  const out: string[] = [];
  if (written) {
    out.push(
      `wrote ${report.output}: kept ${report.kept} of ${report.lines} line${report.lines === 1 ? "" : "s"}, dropped ${dropped}${report.bomStripped ? ", stripped the byte order mark" : ""}`,
    );
  } else {
    out.push(`nothing could be kept: all ${report.lines} line${report.lines === 1 ? "" : "s"} of ${report.input} were dropped; ${report.output} was not written`);
  }
  const groups = new Map<string, RemovedLine[]>();
  for (const line of report.removedLines) {
    const key = `${line.reason}\u0000${line.code ?? line.reason}`;
    const group = groups.get(key);
    if (group) group.push(line);
    else groups.set(key, [line]);
  }
  if (groups.size > 0) out.push("dropped:");
  for (const [key, lines] of groups) {
    const [reason, code] = key.split("\u0000") as [FixReason, string];
    out.push(`  ${code} (${lines.length}x, ${REASON_WORDS[reason]}${reason === "over_context" && maxTokens ? ` of ${maxTokens} tokens` : ""})`);
    for (const line of lines.slice(0, LINES_SHOWN_PER_CODE)) out.push(`    line ${line.line}${describeRemoval(line)}`);
    if (lines.length > LINES_SHOWN_PER_CODE) out.push(`    and ${lines.length - LINES_SHOWN_PER_CODE} more (\`--json\` lists every one)`);
  }
  out.push(`${report.input} was not changed.`);
  if (!written) out.push("fix: correct the lines above (`tunekit data validate` shows each problem with its fix), or keep some with --keep-invalid / --keep-duplicates");
  return `${out.join("\n")}\n`;
}

function describeRemoval(line: RemovedLine): string {
  if (line.message) return `: ${line.message}`;
  if (line.duplicateOf !== undefined) return `: repeats line ${line.duplicateOf}`;
  if (line.tokens !== undefined) return `: ${line.tokens} tokens`;
  return "";
}
