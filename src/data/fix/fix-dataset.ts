import { createWriteStream } from "node:fs";
import { once } from "node:events";
import { rename, rm } from "node:fs/promises";
import { resolve } from "node:path";
import { TunekitError } from "../../core/errors.js";
import type { DatasetFormat } from "../../spec/dataset.js";
import { readLineBatches } from "../read-lines.js";
import type { ExampleTokenCounter } from "../token-counter.js";
import { PROBLEM_CODES, type ProblemCode } from "../validate/problem-codes.js";
import { HashIndex } from "../validate/hash-index.js";
import { NearDuplicateIndex } from "../validate/near-duplicates.js";
import { detectFileFormat } from "../validate/validate-file.js";
import { validateLine, type LineContext } from "../validate/validate-line.js";
import { MAX_EXACT_INDEX, MAX_NEAR_INDEX, MAX_PROMPT_INDEX } from "../validate/validation-state.js";

/**
 * Fixes that never touch the original: streams a JSONL dataset into a new file, leaving out the
 * lines a fix removes (each line is judged by the validator's own `validateLine`, so "invalid"
 * means exactly what `tunekit data validate` reports). Kept lines are copied byte for byte, except
 * the byte order mark when `stripBom` is set. The output appears whole or not at all.
 */
export interface FixDatasetOptions {
  input: string;
  output: string;
  /** drop lines with errors, and blank lines */
  dropInvalid?: boolean;
  /** drop exact repeats of an earlier kept example */
  dropDuplicates?: boolean;
  /** drop near-duplicates of an earlier kept example (MinHash, estimated Jaccard >= 0.8) */
  dropNearDuplicates?: boolean;
  /** drop examples longer than the counter's context length (the longest sequence the model reads) */
  contextLimit?: { counter: ExampleTokenCounter; maxTokens: number } | null;
  /** drop training examples whose prompt is also in this (validation) file */
  removeOverlapWith?: string | null;
  stripBom?: boolean;
  /**
   * the CLI's report: every removed line (not only the first 1,000) with the validator's code and
   * what it repeats; the server's answer keeps `{line, reason}` for the first 1,000
   */
  detailed?: boolean;
  /** when no line is kept, write nothing (the output stays absent) instead of an empty file */
  skipEmptyOutput?: boolean;
}

export type FixReason = "invalid" | "blank" | "duplicate" | "near_duplicate" | "over_context" | "validation_overlap";

export interface FixReport {
  input: string;
  output: string;
  lines: number;
  kept: number;
  removed: Record<FixReason, number>;
  /** the first removed lines with their reason (1-based line numbers of the input) */
  removedLines: RemovedLine[];
  bomStripped: boolean;
}

/** One removed line: the fix's reason and, with `detailed`, the validator's problem code and what it repeats. */
export interface RemovedLine {
  line: number;
  reason: FixReason;
  /** the validator's code (`tunekit data validate` reports the line under it) */
  code?: ProblemCode;
  /** the validator's message for an invalid line */
  message?: string;
  /** what to do about an invalid line: the validator's fix for its code */
  fix?: string;
  /** the earlier kept line this one repeats (duplicates and near duplicates) */
  duplicateOf?: number;
  /** tokens of the example and the limit (over_context) */
  tokens?: number;
}

const REASON_CODES: Record<FixReason, ProblemCode> = {
  invalid: "invalid_json",
  blank: "blank_line",
  duplicate: "duplicate_example",
  near_duplicate: "near_duplicate_example",
  over_context: "example_over_context_length",
  validation_overlap: "train_validation_overlap",
};

const LISTED_REMOVALS = 1000;

export async function fixDataset(options: FixDatasetOptions): Promise<FixReport> {
  if (resolve(options.input) === resolve(options.output)) {
    throw new TunekitError("a fix writes a new file: the output is the input", {
      kind: "usage",
      code: "output_is_input",
      field: "output",
      fix: "write the fixed dataset to another path",
    });
  }
  const detected = await detectFileFormat(options.input);
  const format: DatasetFormat | null = detected?.format ?? null;
  const counter = options.contextLimit?.counter ?? null;
  const context: LineContext = {
    format,
    formatSource: detected ? `detected from line ${detected.line}` : "no line of a known format",
    counter,
    fingerprints: Boolean(options.dropDuplicates || options.dropNearDuplicates),
    prompts: Boolean(options.removeOverlapWith),
  };
  const validationPrompts = options.removeOverlapWith ? await promptIndex(options.removeOverlapWith, format) : null;
  const exact = options.dropDuplicates ? new HashIndex(MAX_EXACT_INDEX) : null;
  const near = options.dropNearDuplicates ? new NearDuplicateIndex(MAX_NEAR_INDEX) : null;
  const report: FixReport = {
    input: options.input,
    output: options.output,
    lines: 0,
    kept: 0,
    removed: { invalid: 0, blank: 0, duplicate: 0, near_duplicate: 0, over_context: 0, validation_overlap: 0 },
    removedLines: [],
    bomStripped: false,
  };
  const remove = (line: number, reason: FixReason, detail: Partial<RemovedLine> = {}) => {
    report.removed[reason]++;
    if (options.detailed) report.removedLines.push({ line, reason, code: REASON_CODES[reason], ...detail });
    else if (report.removedLines.length < LISTED_REMOVALS) report.removedLines.push({ line, reason });
  };

  const partial = `${options.output}.partial`;
  const sink = createWriteStream(partial);
  try {
    await once(sink, "open");
    for await (const batch of readLineBatches(options.input)) {
      const invalid = new Set(batch.invalidUtf8);
      const kept: string[] = [];
      for (let index = 0; index < batch.lines.length; index++) {
        const line = batch.firstLine + index;
        let text = batch.lines[index] as string;
        report.lines = line;
        const result = validateLine(text, line, context, !invalid.has(index));
        if (result.blank) {
          if (options.dropInvalid) remove(line, "blank");
          else kept.push(text);
          continue;
        }
        if (result.hasErrors && options.dropInvalid) {
          const first = result.problems.find((problem) => PROBLEM_CODES[problem.code].severity === "error");
          remove(line, "invalid", first ? { code: first.code, message: first.message, fix: PROBLEM_CODES[first.code].fix } : {});
          continue;
        }
        const earlier = exact && result.exactHash ? exact.getOrSet(result.exactHash, line) : -1;
        if (earlier !== -1) {
          remove(line, "duplicate", { duplicateOf: earlier });
          continue;
        }
        const match = near && result.signature ? near.checkAndAdd(result.signature, 0, line) : null;
        if (match) {
          remove(line, "near_duplicate", { duplicateOf: match.line });
          continue;
        }
        if (options.contextLimit && result.tokens && result.tokens.longest > options.contextLimit.maxTokens) {
          remove(line, "over_context", { tokens: result.tokens.longest });
          continue;
        }
        if (validationPrompts && result.promptHash && validationPrompts.get(result.promptHash) !== -1) {
          remove(line, "validation_overlap");
          continue;
        }
        if (line === 1 && options.stripBom && text.charCodeAt(0) === 0xfeff) {
          text = text.slice(1);
          report.bomStripped = true;
        }
        kept.push(text);
      }
      report.kept += kept.length;
      if (kept.length > 0 && !sink.write(`${kept.join("\n")}\n`)) await once(sink, "drain");
    }
    sink.end();
    await once(sink, "close");
    if (report.kept === 0 && options.skipEmptyOutput) {
      await rm(partial, { force: true });
      return report;
    }
    await rename(partial, options.output);
  } catch (error) {
    sink.destroy();
    await rm(partial, { force: true });
    throw error;
  }
  return report;
}

/** Prompt hashes of a (validation) file, the way the validator computes them for overlap. */
async function promptIndex(path: string, format: DatasetFormat | null): Promise<HashIndex> {
  const index = new HashIndex(MAX_PROMPT_INDEX);
  const context: LineContext = { format: (await detectFileFormat(path))?.format ?? format, formatSource: "validation file", fingerprints: false, prompts: true };
  for await (const batch of readLineBatches(path)) {
    for (let offset = 0; offset < batch.lines.length; offset++) {
      const result = validateLine(batch.lines[offset] as string, batch.firstLine + offset, context);
      if (result.promptHash) index.getOrSet(result.promptHash, batch.firstLine + offset);
    }
  }
  return index;
}
