import { existsSync, statSync } from "node:fs";
import type { ReaderOptions } from "../decode/reader-options.js";
import { effectiveEncoding, readSourceHead } from "../decode/source-bytes.js";
import { loadCounterLazily } from "./load-counter-lazily.js";
import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { TunekitError } from "../../core/errors.js";
import { DATASET_FORMATS, detectFormat, type DatasetFormat } from "../../spec/dataset.js";
import { readLineBatches, readLineChunks } from "../read-lines.js";
import type { ReadableFormat, RecordFileFormat, SourceRecord } from "../read-records.js";
import { sniffDatasetFile, type SniffedDatasetFile } from "../sniff-dataset-file.js";
import type { ExampleTokenCounter } from "../token-counter.js";
import { HashIndex } from "./hash-index.js";
import type { ValidationProblem } from "./problem-codes.js";
import { validateBatch, type BatchResult } from "./validate-batch.js";
import { validateLine, type LineContext, type LineResult } from "./validate-line.js";
import type { ProblemCode } from "./problem-codes.js";
import type { WorkerSetup } from "./validate-worker.js";
import { MAX_PROMPT_INDEX, ValidationState, type FileStats, type IndexLimits } from "./validation-state.js";

export interface ValidateFileOptions {
  /** dataset format; "auto" (default) detects it from the first object line */
  format?: DatasetFormat | "auto";
  /** count tokens and check the context length with this model's tokenizer */
  model?: string;
  /** an already loaded counter (validation then runs on this thread) */
  tokenCounter?: ExampleTokenCounter;
  /** a validation file: validated too, and checked for prompts shared with the training file */
  validationFile?: string;
  /** worker threads; 0 = this thread. Default: 2 for files over 8 MiB when 2 cores exist */
  threads?: number;
  /** exact and near duplicate checks (default true) */
  duplicates?: boolean;
  /** smaller bounds for the duplicate and overlap indexes than the defaults */
  limits?: IndexLimits;
  /** the file's name as its owner knows it (an upload is stored under an id): tells a .csv from JSON Lines */
  filename?: string;
  /**
   * Receives every problem of both files, in line order (the validation file's first), where the
   * report keeps the first 1,000 of each code: `data validate --json` spills them to disk and lists
   * them all with bounded memory.
   */
  onProblem?: (problem: ValidationProblem, severity: "error" | "warning") => void;
  /**
   * Read every format the data commands read (CSV, TSV, JSON arrays and wrappers, Parquet, Arrow,
   * dataset folders, gzip/zstd, UTF-16, `--encoding`) through the one reader, `--map` applied; the
   * CLI sets it. Off (uploads, training checks), a table is one `needs_conversion` problem and a
   * compressed or UTF-16 file is named, since what trains on the file reads plain UTF-8 JSONL.
   */
  anyFormat?: boolean;
  /** with anyFormat: `--encoding`, `--json-key`, `--split` */
  reader?: ReaderOptions;
  /** with anyFormat: `--map column=field` entries, as `tunekit data convert` takes them */
  map?: readonly string[];
}

export interface ValidationReport {
  ok: boolean;
  errors: ValidationProblem[];
  warnings: ValidationProblem[];
  stats: FileStats & { validation?: FileStats };
  /** jsonl, or a table / JSON array that needs a column mapping first (one `needs_conversion` error); null for a file that is not a text dataset */
  source_format?: RecordFileFormat | null;
}

const FORMAT_DETECTION_LINES = 10_000;
const WORKER_THRESHOLD_BYTES = 8 << 20;
/** a smaller young generation than V8's default keeps each worker's footprint down */
const WORKER_YOUNG_GENERATION_MB = 8;

/**
 * Validates a JSONL dataset without loading it: streams it in chunks of lines, validates each line
 * (validateLine, on worker threads for big files), and feeds the results in line order to a
 * ValidationState. Returns the report; throws TunekitError (kind "usage") for a missing file or an
 * unknown format.
 */
export async function validateFile(path: string, options: ValidateFileOptions = {}): Promise<ValidationReport> {
  const requested = options.format ?? "auto";
  if (requested !== "auto" && !DATASET_FORMATS.includes(requested)) {
    throw new TunekitError(`\`--format\` ${String(requested)} is not a dataset format`, {
      kind: "usage",
      code: "invalid_format",
      field: "--format",
      fix: `use one of auto, ${DATASET_FORMATS.join(", ")}`,
    });
  }
  const anyFormat = options.anyFormat === true;
  checkReadable(path, "FILE", anyFormat);
  if (options.validationFile !== undefined) checkReadable(options.validationFile, "--validation-file", anyFormat);
  // a table, a JSON array, a binary or an empty file is said in one problem, not one per line
  const sniffed = isDirectory(path) ? null : await sniffDatasetFile(path, options.filename ?? path, anyFormat ? { decode: true, ...options.reader } : {});
  if (sniffed !== null && sniffed.kind !== "jsonl" && !(anyFormat && sniffed.kind === "table")) {
    const report = wholeFileReport(path, options.filename ?? path, sniffed);
    for (const problem of report.errors) options.onProblem?.(problem, "error");
    return report;
  }

  let counter = options.tokenCounter ?? null;
  const model = counter ? null : (options.model ?? null);
  // a validation file validated on this thread loads the counter; the training file reuses it

  let overlapWith: { index: HashIndex; file: string } | null = null;
  let validationStats: FileStats | undefined;
  const errors: ValidationProblem[] = [];
  const warnings: ValidationProblem[] = [];

  if (options.validationFile !== undefined) {
    const prompts = new HashIndex(options.limits?.prompts ?? MAX_PROMPT_INDEX);
    const report = await scanFile(options.validationFile, { ...options, requested, counter, model, collectPrompts: prompts, labelProblems: true });
    counter = report.counter;
    overlapWith = { index: prompts, file: options.validationFile };
    validationStats = report.stats;
    errors.push(...report.errors);
    warnings.push(...report.warnings);
  }
  const report = await scanFile(path, { ...options, requested, counter, model, overlapWith, labelProblems: false });
  const providerProblem = options.model === undefined ? null : await hostedFormatProblem(options.model, report.stats.format, path);
  if (providerProblem !== null) {
    report.errors.push(providerProblem);
    report.stats.errors += 1;
    report.stats.codes[providerProblem.code] = (report.stats.codes[providerProblem.code] ?? 0) + 1;
    options.onProblem?.(providerProblem, "error");
  }
  const stats: ValidationReport["stats"] = validationStats ? { ...report.stats, validation: validationStats } : report.stats;
  return {
    ok: report.errors.length === 0 && errors.length === 0,
    errors: [...report.errors, ...errors],
    warnings: [...report.warnings, ...warnings],
    stats,
    // Arrow (a save_to_disk folder) is binary: not one of the record file formats an upload names
    source_format: report.sourceFormat === "arrow" ? null : (report.sourceFormat ?? "jsonl"),
  };
}

/**
 * Hosted models whose provider trains preference pairs (OpenAI's DPO). OpenAI and Azure OpenAI
 * fine-tune their chat models on chat examples only: no prompt-completion, no raw text.
 */
const DPO_MODELS = new Set(["gpt-4o-2024-08-06", "gpt-4o-mini-2024-07-18", "gpt-4.1-2025-04-14", "gpt-4.1-mini-2025-04-14", "gpt-4.1-nano-2025-04-14"]);

/** The file-level error for a format the `--model`'s hosted provider does not train on, or null. */
export async function hostedFormatProblem(model: string, format: DatasetFormat | null, file: string): Promise<ValidationProblem | null> {
  if (format === null || format === "chat") return null;
  // the price table (zod, prices.json) is loaded only when a format other than chat meets a --model
  const { defaultPriceTable, findHostedPrice } = await import("../estimate/price-table.js");
  const hosted = findHostedPrice(defaultPriceTable(), model);
  if (hosted === null) return null;
  const provider = hosted.provider === "openai" ? "OpenAI (and Azure OpenAI)" : hosted.provider;
  if (format === "preference") {
    if (DPO_MODELS.has(hosted.model)) return null;
    return {
      line: null,
      code: "format_not_supported",
      message: `\`${model}\` is fine-tuned by ${provider} with supervised chat examples only, not preference pairs (DPO runs on ${[...DPO_MODELS].join(", ")}); pick one of those models, or train the pairs on a local model`,
    };
  }
  const fix =
    format === "prompt-completion"
      ? `convert it to chat first: \`tunekit data convert ${file} OUT.jsonl\` (the prompt becomes the user message, the completion the assistant's), then validate OUT.jsonl`
      : 'write it as chat examples (`{"messages": [...]}`), or train the text on a local model';
  return {
    line: null,
    code: "format_not_supported",
    message: `\`${model}\` is fine-tuned by ${provider} on chat examples only, and this file is ${format}: ${fix}`,
  };
}

function wholeFileReport(path: string, name: string, sniffed: Exclude<SniffedDatasetFile, { kind: "jsonl" }>): ValidationReport {
  const code = sniffed.kind === "table" ? "needs_conversion" : sniffed.kind === "empty" ? "empty_file" : "binary_file";
  const message =
    sniffed.kind === "table"
      ? `this is ${sniffed.container === "json" ? "a JSON array" : `a ${sniffed.container.toUpperCase()} file`}, not JSON Lines; map its columns to chat messages first: \`tunekit data convert ${name} OUT.jsonl --map <column>=user --map <column>=assistant\`, or the web UI's column mapping`
      : sniffed.kind === "empty"
        ? "the file is empty (0 bytes); export the dataset again"
        : /;/.test(sniffed.reason)
          ? sniffed.reason
          : `${sniffed.reason}; upload JSONL, CSV, TSV, JSON or Parquet text`;
  return {
    ok: false,
    errors: [{ line: null, code, message }],
    warnings: [],
    source_format: sniffed.kind === "table" && sniffed.container !== "arrow" ? sniffed.container : null,
    stats: {
      file: name,
      format: null,
      format_source: sniffed.kind === "table" ? `${sniffed.container} file` : "not a text dataset",
      lines: 0,
      blank_lines: 0,
      bytes: statSync(path).size,
      examples: 0,
      valid_examples: 0,
      errors: 1,
      warnings: 0,
      codes: { [code]: 1 },
      duplicates: { exact: 0, near: 0, near_method: "" },
    },
  };
}

function isDirectory(path: string): boolean {
  return existsSync(path) && statSync(path).isDirectory();
}

function checkReadable(path: string, field: string, folders = false): void {
  if (!existsSync(path)) {
    throw new TunekitError(`\`${field}\` ${path} does not exist`, { kind: "usage", code: "file_not_found", field, fix: "check the path" });
  }
  if (!statSync(path).isFile() && !(folders && statSync(path).isDirectory())) {
    throw new TunekitError(`\`${field}\` ${path} is not a file`, { kind: "usage", code: "not_a_file", field, fix: "give the path of a .jsonl file" });
  }
}

/** The format of the first object line of a known format, and that line. */
export async function detectFileFormat(path: string, reader: ReaderOptions = {}): Promise<{ format: DatasetFormat; line: number } | null> {
  for await (const batch of readLineBatches(path, { chunkBytes: 1 << 16, ...(reader.encoding !== undefined && { encoding: reader.encoding }) })) {
    for (let index = 0; index < batch.lines.length; index++) {
      const line = batch.firstLine + index;
      if (line > FORMAT_DETECTION_LINES) return null;
      const text = (batch.lines[index] as string).replace(/^\ufeff/, "");
      if (!text.trimStart().startsWith("{")) continue;
      try {
        const format = detectFormat(JSON.parse(text));
        if (format !== null) return { format, line };
      } catch {
        // an invalid line: the scan reports it
      }
    }
  }
  return null;
}

interface ScanOptions extends Omit<ValidateFileOptions, "model"> {
  requested: DatasetFormat | "auto";
  /** a loaded counter: the caller's (then everything runs on this thread) or one to reuse */
  counter: ExampleTokenCounter | null;
  model: string | null;
  overlapWith?: { index: HashIndex; file: string } | null;
  collectPrompts?: HashIndex | null;
  labelProblems: boolean;
}

interface ScanReport {
  errors: ValidationProblem[];
  warnings: ValidationProblem[];
  stats: FileStats;
  /** the counter loaded on this thread, for reuse by the next file */
  counter: ExampleTokenCounter | null;
  /** what the file was read as (jsonl on the line path) */
  sourceFormat?: ReadableFormat | null;
}

async function scanFile(path: string, options: ScanOptions): Promise<ScanReport> {
  if (options.anyFormat && (isDirectory(path) || (options.map ?? []).length > 0 || (await sniffDatasetFile(path, path, { decode: true, ...options.reader })).kind !== "jsonl")) {
    return scanRecords(path, options);
  }
  const encoding = options.anyFormat ? options.reader?.encoding : undefined;
  let format: DatasetFormat | null;
  let formatSource: string;
  if (options.requested === "auto") {
    const detected = await detectFileFormat(path, encoding === undefined ? {} : { encoding });
    format = detected?.format ?? null;
    formatSource = detected ? `detected from line ${detected.line}` : "no line of a known format";
  } else {
    format = options.requested;
    formatSource = `--format ${options.requested}`;
  }
  if (options.anyFormat) {
    // say how the bytes were read when it was not plain UTF-8 on disk
    const head = await readSourceHead(path, 4);
    const encoding = effectiveEncoding(head, options.reader?.encoding);
    const how = [head.compression, encoding === "utf-8" ? null : encoding].filter((part) => part !== null);
    if (how.length > 0) formatSource = `${formatSource}; read as jsonl, ${how.join(", ")}`;
  }
  const fingerprints = options.duplicates !== false;
  const prompts = Boolean(options.overlapWith) || Boolean(options.collectPrompts);
  const everyProblem = options.onProblem !== undefined;
  const size = statSync(path).size;
  const threads = options.tokenCounter ? 0 : resolveThreads(options.threads, size, options.model !== null || options.counter !== null);
  const workerFile = resolveWorkerFile();
  const useWorkers = threads > 0 && workerFile !== null;

  let counter = options.counter;
  let tokens: { method: string; contextLength: number | null } | null = null;
  let pool: WorkerPool | null = null;
  if (useWorkers) {
    pool = await WorkerPool.start(workerFile as string, threads, { format, formatSource, model: options.model, fingerprints, prompts, everyProblem });
    tokens = pool.tokens;
  } else {
    if (counter === null && options.model !== null) counter = await loadCounterLazily(options.model);
    if (counter) tokens = { method: counter.method, contextLength: counter.contextLength };
  }

  const state = scanState(path, options, format, formatSource, tokens);
  if (pool) {
    try {
      await pool.run(path, (result) => state.addBatch(result), encoding);
    } finally {
      await pool.stop();
    }
  } else {
    const context: LineContext = { format, formatSource, counter, fingerprints, prompts, everyProblem };
    for await (const batch of readLineBatches(path, encoding === undefined ? {} : { encoding })) state.addBatch(validateBatch(batch, context));
  }
  return { ...state.finish(), counter, sourceFormat: "jsonl" };
}

const RECORD_CODES = new Set<string>(["invalid_json", "invalid_utf8", "wrong_field_count"]);

/** The validation state of one scan (JSONL or records): the same checks and limits either way. */
function scanState(
  path: string,
  options: ScanOptions,
  format: ConstructorParameters<typeof ValidationState>[0]["format"],
  formatSource: ConstructorParameters<typeof ValidationState>[0]["formatSource"],
  tokens: ConstructorParameters<typeof ValidationState>[0]["tokens"],
): ValidationState {
  return new ValidationState({
    file: path,
    labelProblems: options.labelProblems,
    format,
    formatSource,
    duplicates: options.duplicates,
    overlapWith: options.overlapWith,
    collectPrompts: options.collectPrompts,
    tokens,
    limits: options.limits,
    minimumExamples: options.collectPrompts ? 1 : undefined,
    onProblem: options.onProblem,
  });
}

function problemResult(code: ProblemCode, message: string): LineResult {
  return { problems: [{ code, message }], blank: false, hasErrors: true, exactHash: null, promptHash: null, signature: null, tokens: null };
}

/**
 * The records path: a table, JSON array, Parquet/Arrow file or dataset folder (or JSONL with
 * `--map`) read through openDatasetRecords, each record validated as the line it came from
 * (a CSV's line numbers; a row number where a format has no lines), on this thread.
 */
async function scanRecords(path: string, options: ScanOptions): Promise<ScanReport> {
  const { openDatasetRecords } = await import("../decode/dataset-records.js");
  const opened = await openDatasetRecords(path, { ...options.reader, ...(options.map !== undefined && { map: options.map }) });
  const iterator = opened.records[Symbol.asyncIterator]();
  const buffered: SourceRecord[] = [];
  let format: DatasetFormat | null = null;
  let formatSource: string;
  const where = (record: SourceRecord): number => (record.file !== undefined ? record.row : (record.line ?? record.row));
  const unit = opened.format === "csv" || opened.format === "tsv" || opened.format === "jsonl" ? "line" : "record";
  if (options.requested === "auto") {
    formatSource = "no record of a known format";
    while (buffered.length < FORMAT_DETECTION_LINES) {
      const next = await iterator.next();
      if (next.done) break;
      buffered.push(next.value);
      const detected = next.value.problem ? null : detectFormat(next.value.value);
      if (detected !== null) {
        format = detected;
        formatSource = `detected from ${unit} ${where(next.value)}`;
        break;
      }
    }
  } else {
    format = options.requested;
    formatSource = `--format ${options.requested}`;
  }
  const described = opened.mapping ? `, mapped with --map` : "";
  const sourceName = opened.split
    ? `${opened.format} split \`${opened.split.name}\` of ${opened.split.layout}`
    : opened.compression
      ? `${opened.format}, ${opened.compression}`
      : opened.format;
  formatSource = `${formatSource}; read as ${sourceName}${opened.encoding !== "utf-8" ? `, ${opened.encoding}` : ""}${described}`;

  let counter = options.counter;
  if (counter === null && options.model !== null) counter = await loadCounterLazily(options.model);
  const tokens = counter ? { method: counter.method, contextLength: counter.contextLength } : null;
  const state = scanState(path, options, format, formatSource, tokens);
  const context: LineContext = {
    format,
    formatSource,
    counter,
    fingerprints: options.duplicates !== false,
    prompts: Boolean(options.overlapWith) || Boolean(options.collectPrompts),
    everyProblem: options.onProblem !== undefined,
  };
  const validate = (record: SourceRecord): void => {
    const line = where(record);
    if (record.problem) {
      const code: ProblemCode = RECORD_CODES.has(record.problem.code) ? (record.problem.code as ProblemCode) : "unmapped_record";
      const fix = `; ${record.problem.fix}`;
      state.add(line, problemResult(code, `${record.problem.message.replace(/^line \d+ (is|has) /, "the row $1 ")}${fix}`));
      return;
    }
    state.add(line, validateLine(JSON.stringify(record.value), line, context));
  };
  for (const record of buffered) validate(record);
  for (let next = await iterator.next(); !next.done; next = await iterator.next()) validate(next.value);
  const finished = state.finish();
  finished.stats.bytes = opened.files.reduce((total, file) => total + statSync(file).size, 0);
  return { ...finished, counter, sourceFormat: opened.format };
}

/**
 * The compiled worker next to this module; null when running from the TypeScript sources (tsx,
 * vitest), where validation stays on this thread.
 */
function resolveWorkerFile(): string | null {
  const compiled = fileURLToPath(new URL("./validate-worker.js", import.meta.url));
  return existsSync(compiled) ? compiled : null;
}

/**
 * Default: work on this thread for small files; for files over 8 MiB on a machine with 2+ cores,
 * 2 worker threads. With a tokenizer (--model) it stays on this thread: each thread would load its
 * own tokenizer (~75 MB for tiktoken o200k_base) and peak memory must stay under 300 MB; the
 * per-piece count cache makes counting cheap enough. TUNEKIT_VALIDATE_THREADS or `threads` override.
 */
function resolveThreads(requested: number | undefined, size: number, countsTokens: boolean): number {
  const fromEnvironment = process.env.TUNEKIT_VALIDATE_THREADS;
  if (requested === undefined && fromEnvironment !== undefined && /^\d+$/.test(fromEnvironment)) requested = Number(fromEnvironment);
  if (requested !== undefined) return Math.max(0, Math.floor(requested));
  if (availableParallelism() < 2 || size <= WORKER_THRESHOLD_BYTES) return 0;
  return countsTokens ? 0 : 2;
}

/**
 * Worker threads validating chunks in parallel. The main thread reads and splits the file, sends
 * chunks round-robin (at most two in flight per worker, so memory stays bounded) and applies the
 * results strictly in chunk order, so line numbers, problem order and duplicate "first seen" lines
 * are the same as on one thread.
 */
class WorkerPool {
  private failure: Error | null = null;
  private wake: (() => void) | null = null;
  private readonly results = new Map<number, BatchResult>();

  private constructor(
    private readonly workers: Worker[],
    readonly tokens: { method: string; contextLength: number | null } | null,
  ) {
    for (const worker of workers) {
      worker.on("message", (message: { type: string; id: number; result: BatchResult; error: Record<string, unknown> }) => {
        if (message.type === "result") this.results.set(message.id, message.result);
        else if (message.type === "fatal") this.failure = toError(message.error);
        this.notify();
      });
      worker.on("error", (error) => {
        this.failure = error;
        this.notify();
      });
    }
  }

  static async start(file: string, count: number, setup: WorkerSetup): Promise<WorkerPool> {
    const workers = Array.from({ length: count }, () => new Worker(file, { workerData: setup, resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB } }));
    const ready = await Promise.all(
      workers.map(
        (worker) =>
          new Promise<{ method: string | null; contextLength: number | null }>((resolve, reject) => {
            worker.once("message", (message: { type: string; method: string | null; contextLength: number | null; error: Record<string, unknown> }) => {
              if (message.type === "ready") resolve(message);
              else reject(toError(message.error));
            });
            worker.once("error", reject);
          }),
      ),
    ).catch(async (error: unknown) => {
      await Promise.all(workers.map((worker) => worker.terminate()));
      throw error;
    });
    const first = ready[0];
    const tokens = first && first.method !== null ? { method: first.method, contextLength: first.contextLength } : null;
    return new WorkerPool(workers, tokens);
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }

  private async waitForMessage(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.wake = resolve;
    });
    if (this.failure) throw this.failure;
  }

  async run(path: string, apply: (result: BatchResult) => void, encoding?: ReaderOptions["encoding"]): Promise<void> {
    let sent = 0;
    let applied = 0;
    const maxInFlight = this.workers.length * 2;
    const drain = (): void => {
      if (this.failure) throw this.failure;
      for (let result = this.results.get(applied); result !== undefined; result = this.results.get(applied)) {
        this.results.delete(applied);
        applied++;
        apply(result);
      }
    };
    for await (const chunk of readLineChunks(path, encoding === undefined ? {} : { encoding })) {
      const worker = this.workers[sent % this.workers.length] as Worker;
      worker.postMessage({ id: sent, chunk }, [chunk.data.buffer as ArrayBuffer]);
      sent++;
      drain();
      while (sent - applied >= maxInFlight) {
        await this.waitForMessage();
        drain();
      }
    }
    while (applied < sent) {
      drain();
      if (applied < sent) await this.waitForMessage();
    }
    drain();
  }

  async stop(): Promise<void> {
    await Promise.all(this.workers.map((worker) => worker.terminate()));
  }
}

function toError(fields: Record<string, unknown> | undefined): Error {
  const message = String(fields?.message ?? "validation worker failed");
  if (fields?.kind) {
    return new TunekitError(message, {
      kind: fields.kind as TunekitError["kind"],
      code: fields.code as string | undefined,
      fix: fields.fix as string | undefined,
      field: fields.field as string | undefined,
    });
  }
  return new TunekitError(message, { kind: "internal" });
}

export { loadCounterLazily } from "./load-counter-lazily.js";
