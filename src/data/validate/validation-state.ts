import type { DatasetFormat } from "../../spec/dataset.js";
import { HashIndex } from "./hash-index.js";
import { MINHASH_SIZE, NEAR_DUPLICATE_METHOD, NearDuplicateIndex } from "./near-duplicates.js";
import { severityOf, type ProblemCode, type ValidationProblem } from "./problem-codes.js";
import { BatchBuilder, HAS_EXACT, HAS_PROMPT, HAS_SIGNATURE, HAS_TOKENS, MAX_STORED_PER_CODE, type BatchProblem, type BatchResult } from "./validate-batch.js";
import type { LineResult } from "./validate-line.js";

/** OpenAI requires at least 10 examples for a fine-tuning job. */
export const MIN_EXAMPLES = 10;
/**
 * Memory bounds of the cross-example checks (typed-array tables, 12 bytes a slot, at most half
 * full, so a table of n entries takes about 24n bytes at its largest): exact duplicates index the
 * first 1,048,576 examples (24 MiB), near duplicates the first 174,762 (6 band keys each: 24 MiB,
 * plus 24-byte signatures: 4 MiB), the validation file's prompts the first 1,048,576 (24 MiB).
 * Past a bound, later examples are still checked against the indexed ones, are not indexed
 * themselves, and an `index_full` warning says so.
 */
export const MAX_EXACT_INDEX = 1 << 20;
export const MAX_NEAR_INDEX = 174_762;
export const MAX_PROMPT_INDEX = 1 << 20;

export interface TokenStats {
  method: string;
  context_length: number | null;
  counted_examples: number;
  total: number;
  trained: number;
  max: number;
  mean: number;
  over_context_length: number;
}

export interface FileStats {
  file: string;
  format: DatasetFormat | null;
  format_source: string;
  lines: number;
  blank_lines: number;
  bytes: number;
  /** non-blank lines */
  examples: number;
  /** examples without errors */
  valid_examples: number;
  errors: number;
  warnings: number;
  /** every problem counted by code (stored problems are capped at 1000 a code) */
  codes: Partial<Record<ProblemCode, number>>;
  duplicates: { exact: number; near: number; near_method: string };
  tokens?: TokenStats;
  /** examples whose prompt is also in the validation file */
  validation_overlap?: number;
}

export interface FileReport {
  errors: ValidationProblem[];
  warnings: ValidationProblem[];
  stats: FileStats;
}

export interface ValidationStateOptions {
  /** path shown in stats, and set on problems when `labelProblems` */
  file: string;
  labelProblems?: boolean;
  format: DatasetFormat | null;
  formatSource: string;
  /** exact and near duplicate checks (default true) */
  duplicates?: boolean;
  /** prompts of the validation file: examples whose prompt is in it get `train_validation_overlap` */
  overlapWith?: { index: HashIndex; file: string } | null;
  /** collect this file's prompt hashes (when it is the validation file) */
  collectPrompts?: HashIndex | null;
  /** counting method and context length when tokens are counted */
  tokens?: { method: string; contextLength: number | null } | null;
  /** smaller index bounds than the defaults (tests, tight memory) */
  limits?: IndexLimits;
  /** fewer examples is an error (default MIN_EXAMPLES; a validation file needs only 1) */
  minimumExamples?: number;
  /** receives every problem, in line order (whole-file problems last), beyond the ones the report keeps */
  onProblem?: (problem: ValidationProblem, severity: "error" | "warning") => void;
}

export interface IndexLimits {
  /** examples indexed for exact duplicates (default MAX_EXACT_INDEX) */
  exact?: number;
  /** examples indexed for near duplicates (default MAX_NEAR_INDEX) */
  near?: number;
  /** validation-file prompts indexed for overlap (default MAX_PROMPT_INDEX) */
  prompts?: number;
}

/**
 * The streaming state of a validation: fed LineResults (or packed batches of them) in line order,
 * it adds the checks that span lines (exact and near duplicates, train/validation overlap, example
 * count), keeps the first MAX_STORED_PER_CODE problems of each code, counts all of them, and sums
 * the stats. Memory stays bounded: only fingerprints are kept, in capped tables.
 */
export class ValidationState {
  private readonly errors: ValidationProblem[] = [];
  private readonly warnings: ValidationProblem[] = [];
  private readonly codes: Partial<Record<ProblemCode, number>> = {};
  private readonly exactIndex: HashIndex | null;
  private readonly nearIndex: NearDuplicateIndex | null;
  private lines = 0;
  private bytes = 0;
  private blankLines = 0;
  private examples = 0;
  private examplesWithErrors = 0;
  private exactDuplicates = 0;
  private nearDuplicates = 0;
  private overlaps = 0;
  private tokenCount = { counted: 0, total: 0, trained: 0, max: 0, over: 0 };

  constructor(private readonly options: ValidationStateOptions) {
    const duplicates = options.duplicates !== false;
    this.exactIndex = duplicates ? new HashIndex(options.limits?.exact ?? MAX_EXACT_INDEX) : null;
    this.nearIndex = duplicates ? new NearDuplicateIndex(options.limits?.near ?? MAX_NEAR_INDEX) : null;
  }

  /** Feeds one line's result (the streaming API for callers that validate line by line). */
  add(line: number, result: LineResult, bytes = 0): void {
    const builder = new BatchBuilder(line, bytes);
    builder.add(line, result);
    this.addBatch(builder.build());
  }

  /** Feeds the results of consecutive lines; batches must arrive in line order. */
  addBatch(batch: BatchResult): void {
    this.lines = Math.max(this.lines, batch.firstLine + batch.lineCount - 1);
    this.bytes += batch.bytes;
    this.blankLines += batch.blankLines;
    this.examples += batch.examples;
    this.examplesWithErrors += batch.examplesWithErrors;
    // merge the batch's problems with the cross-example problems, in line order
    let problemIndex = 0;
    const problems = batch.problems;
    const flushUntil = (line: number): void => {
      while (problemIndex < problems.length && (problems[problemIndex] as BatchProblem).line <= line) {
        const problem = problems[problemIndex++] as BatchProblem;
        this.record(problem.line, problem.code, problem.message, problem.column);
      }
    };
    for (let index = 0; index < batch.accepted; index++) {
      const line = batch.acceptedLines[index] as number;
      flushUntil(line);
      this.checkExample(batch, index, line);
    }
    flushUntil(Number.POSITIVE_INFINITY);
    // problems the batch only counted come after the stored ones of the same code
    for (const [code, count] of Object.entries(batch.uncountedProblems) as Array<[ProblemCode, number]>) {
      this.codes[code] = (this.codes[code] ?? 0) + count;
    }
  }

  private checkExample(batch: BatchResult, index: number, line: number): void {
    const flags = batch.flags[index] as number;
    let exactDuplicate = false;
    if (flags & HAS_EXACT && this.exactIndex) {
      const key = { high: batch.exactHashes[index * 2] as number, low: batch.exactHashes[index * 2 + 1] as number };
      const earlier = this.exactIndex.getOrSet(key, line);
      if (earlier !== -1) {
        exactDuplicate = true;
        this.exactDuplicates++;
        this.record(line, "duplicate_example", `the example is an exact duplicate of line ${earlier}; remove one of them (duplicates over-weight an example)`);
      }
    }
    if (!exactDuplicate && flags & HAS_SIGNATURE && this.nearIndex) {
      const match = this.nearIndex.checkAndAdd(batch.signatures, index * MINHASH_SIZE, line);
      if (match) {
        this.nearDuplicates++;
        this.record(
          line,
          "near_duplicate_example",
          `the example is a near-duplicate of line ${match.line} (estimated similarity ${match.similarity.toFixed(2)}, threshold 0.8); keep one unless both are intended`,
        );
      }
    }
    if (flags & HAS_PROMPT) {
      const key = { high: batch.promptHashes[index * 2] as number, low: batch.promptHashes[index * 2 + 1] as number };
      this.options.collectPrompts?.getOrSet(key, line);
      const overlap = this.options.overlapWith;
      if (overlap) {
        const validationLine = overlap.index.get(key);
        if (validationLine !== -1) {
          this.overlaps++;
          this.record(
            line,
            "train_validation_overlap",
            `the prompt also appears at line ${validationLine} of the validation file ${overlap.file}; remove it from one of the files, or validation loss will look better than it is`,
          );
        }
      }
    }
    if (flags & HAS_TOKENS) {
      const total = batch.tokens[index * 3] as number;
      const longest = batch.tokens[index * 3 + 2] as number;
      this.tokenCount.counted++;
      this.tokenCount.total += total;
      this.tokenCount.trained += batch.tokens[index * 3 + 1] as number;
      this.tokenCount.max = Math.max(this.tokenCount.max, longest);
      const limit = this.options.tokens?.contextLength ?? null;
      if (limit !== null && longest > limit) this.tokenCount.over++;
    }
  }

  private record(line: number | null, code: ProblemCode, message: string, column?: number): void {
    const count = (this.codes[code] ?? 0) + 1;
    this.codes[code] = count;
    const problem: ValidationProblem = column === undefined ? { line, code, message } : { line, code, message, column };
    if (this.options.labelProblems) problem.file = this.options.file;
    this.options.onProblem?.(problem, severityOf(code));
    if (count > MAX_STORED_PER_CODE) return;
    (severityOf(code) === "error" ? this.errors : this.warnings).push(problem);
  }

  finish(): FileReport {
    const minimum = this.options.minimumExamples ?? MIN_EXAMPLES;
    if (this.examples < minimum) {
      this.record(
        null,
        "too_few_examples",
        minimum === MIN_EXAMPLES
          ? `the file has ${this.examples} example${this.examples === 1 ? "" : "s"}; fine-tuning needs at least ${MIN_EXAMPLES} (OpenAI's minimum), and 50 to 100 good examples usually show a clear improvement`
          : `the file has ${this.examples} examples; it needs at least ${minimum}`,
      );
    }
    if (this.exactIndex?.full) {
      this.record(null, "index_full", `exact-duplicate checking indexed the first ${this.exactIndex.maxEntries} examples; later examples were checked against those only`);
    }
    if (this.nearIndex?.full) {
      this.record(null, "index_full", `near-duplicate checking indexed the first ${this.nearIndex.maxExamples} examples; later examples were checked against those only`);
    }
    if (this.options.collectPrompts?.full) {
      this.record(null, "index_full", `overlap checking indexed the first ${this.options.collectPrompts.maxEntries} prompts of the validation file; later ones were not compared`);
    }
    let errors = 0;
    let warnings = 0;
    for (const [code, count] of Object.entries(this.codes) as Array<[ProblemCode, number]>) {
      if (severityOf(code) === "error") errors += count;
      else warnings += count;
    }
    const stats: FileStats = {
      file: this.options.file,
      format: this.options.format,
      format_source: this.options.formatSource,
      lines: this.lines,
      blank_lines: this.blankLines,
      bytes: this.bytes,
      examples: this.examples,
      valid_examples: this.examples - this.examplesWithErrors,
      errors,
      warnings,
      codes: { ...this.codes },
      duplicates: { exact: this.exactDuplicates, near: this.nearDuplicates, near_method: NEAR_DUPLICATE_METHOD },
    };
    if (this.options.tokens) {
      const { counted, total, trained, max, over } = this.tokenCount;
      stats.tokens = {
        method: this.options.tokens.method,
        context_length: this.options.tokens.contextLength,
        counted_examples: counted,
        total,
        trained,
        max,
        mean: counted === 0 ? 0 : Math.round((total / counted) * 10) / 10,
        over_context_length: over,
      };
    }
    if (this.options.overlapWith) stats.validation_overlap = this.overlaps;
    return { errors: this.errors, warnings: this.warnings, stats };
  }
}
