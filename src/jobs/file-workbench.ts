import { copyFile, mkdir, rename, rm } from "node:fs/promises";
import { basename, extname, join } from "node:path";
import { TunekitError } from "../core/errors.js";
import { mappedColumns, type ColumnMapping } from "../data/convert/column-mapping.js";
import { convertDataset, type ConvertReport } from "../data/convert/convert-dataset.js";
import { convertAlpacaRecord, convertMappedRecord, convertSharegptRecord, type RecordConversion } from "../data/convert/convert-record.js";
import { fixDataset, type FixReport } from "../data/fix/fix-dataset.js";
import { readLines } from "../data/read-lines.js";
import { openRecords, type RecordFileFormat } from "../data/read-records.js";
import { splitDataset, type SplitReport } from "../data/split/split-dataset.js";
import { computeDatasetStats, type DatasetStats } from "../data/stats/dataset-stats.js";
import { loadTokenCounter, type DatasetTokenCounter } from "../data/tokens/load-token-counter.js";
import { PROBLEM_CODES, severityOf } from "../data/validate/problem-codes.js";
import type { ChatExample } from "../spec/dataset.js";
import type { FileObject } from "../spec/openai-wire.js";
import type { FileReportView, FixRequest, ProblemView, RecordMapping } from "../spec/tunekit-wire.js";
import type { FileStore, StoredReport } from "./file-store.js";
import type { ModelCatalog } from "./model-catalog.js";

const PREVIEW_RECORDS = 5;
const MAX_LINES_PER_READ = 500;

/**
 * The dataset toolkit (src/data) applied to a project's stored files: the full validation report,
 * raw lines for the line viewer, the columns of a table and a live preview of a column mapping,
 * and the operations that write a new file (convert, fix, split) and never touch the original.
 */
export class FileWorkbench {
  private readonly counters = new Map<string, Promise<DatasetTokenCounter>>();

  constructor(
    private readonly files: FileStore,
    private readonly catalog: ModelCatalog,
  ) {}

  async report(projectId: string, fileId: string): Promise<FileReportView> {
    const report: StoredReport = await this.files.report(projectId, fileId);
    const counts: FileReportView["counts"] = {};
    const codeCounts = { ...report.stats.codes };
    for (const [code, count] of Object.entries(report.stats.validation?.codes ?? {}))
      codeCounts[code as keyof typeof codeCounts] = (codeCounts[code as keyof typeof codeCounts] ?? 0) + (count ?? 0);
    for (const [code, count] of Object.entries(codeCounts)) {
      const known = PROBLEM_CODES[code as keyof typeof PROBLEM_CODES];
      counts[code] = { count: count ?? 0, severity: known ? severityOf(code as keyof typeof PROBLEM_CODES) : "error", title: known?.title ?? code };
    }
    const problems: ProblemView[] = [...report.errors, ...report.warnings]
      .map((problem) => ({
        line: problem.line,
        code: problem.code,
        severity: severityOf(problem.code),
        message: problem.message,
        fix: PROBLEM_CODES[problem.code]?.fix ?? "",
        ...(problem.column !== undefined && { column: problem.column }),
        ...(problem.file !== undefined && { file: problem.file }),
      }))
      .sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
    const counted = Object.values(codeCounts).reduce((sum: number, count) => sum + (count ?? 0), 0);
    return {
      file_id: fileId,
      ok: report.ok,
      format: report.stats.format,
      format_source: report.stats.format_source,
      source_format: report.source_format ?? "jsonl",
      needs_conversion: report.errors.some((problem) => problem.code === "needs_conversion"),
      examples: report.stats.examples,
      valid_examples: report.stats.valid_examples,
      lines: report.stats.lines,
      counts,
      problems,
      problems_omitted: Math.max(0, counted - problems.length),
      duplicates: { exact: report.stats.duplicates.exact, near: report.stats.duplicates.near },
    };
  }

  /** Lines `start` .. `start + count - 1` (1-based) of a stored file, as text. */
  async lines(projectId: string, fileId: string, start: number, count: number): Promise<{ start: number; lines: string[]; end_of_file: boolean }> {
    if (!Number.isInteger(start) || start < 1)
      throw new TunekitError("`start` must be a line number >= 1", { kind: "usage", code: "invalid_request", field: "start", fix: "pass e.g. `start=1`" });
    if (!Number.isInteger(count) || count < 1 || count > MAX_LINES_PER_READ)
      throw new TunekitError(`\`count\` must be 1 to ${MAX_LINES_PER_READ}`, {
        kind: "usage",
        code: "invalid_request",
        field: "count",
        fix: `read at most ${MAX_LINES_PER_READ} lines at a time`,
      });
    const { path } = await this.files.contentPath(projectId, fileId);
    const lines: string[] = [];
    let endOfFile = true;
    for await (const { line, text } of readLines(path)) {
      if (line < start) continue;
      if (line >= start + count) {
        endOfFile = false;
        break;
      }
      lines.push(text);
    }
    return { start, lines, end_of_file: endOfFile };
  }

  /** The columns of a table (CSV, TSV, Parquet, JSON array), its first records, and a suggested mapping. */
  async columns(
    projectId: string,
    fileId: string,
  ): Promise<{ source_format: RecordFileFormat; columns: string[]; rows: Array<Record<string, unknown>>; suggested: RecordMapping }> {
    const container = await this.container(projectId, fileId);
    const { path } = await this.files.contentPath(projectId, fileId);
    const reader = await openRecords(path, container);
    const rows: Array<Record<string, unknown>> = [];
    for await (const record of reader.records) {
      if (record.value && typeof record.value === "object" && !Array.isArray(record.value)) rows.push(record.value as Record<string, unknown>);
      if (rows.length >= PREVIEW_RECORDS) break;
    }
    const columns = reader.columns ?? [...new Set(rows.flatMap((row) => Object.keys(row)))];
    return { source_format: container, columns, rows, suggested: suggestMapping(columns) };
  }

  /** The chat examples a mapping makes of the first records, with each record's problems. */
  async preview(
    projectId: string,
    fileId: string,
    mapping: RecordMapping,
  ): Promise<{ examples: Array<{ row: number; example: ChatExample | null; problems: Array<{ message: string; fix: string }> }> }> {
    const container = await this.container(projectId, fileId);
    const { path } = await this.files.contentPath(projectId, fileId);
    const columns = checkedColumns(mapping);
    const reader = await openRecords(path, container, columns ? { columns: mappedColumns(columns) } : {});
    const convert = converter(mapping, columns);
    const examples = [];
    for await (const record of reader.records) {
      if (record.problem) examples.push({ row: record.row, example: null, problems: [{ message: record.problem.message, fix: record.problem.fix }] });
      else {
        const result = convert(record.value);
        examples.push({ row: record.row, example: result.example ?? null, problems: (result.problems ?? []).map((problem) => ({ message: problem.message, fix: problem.fix })) });
      }
      if (examples.length >= PREVIEW_RECORDS) break;
    }
    return { examples };
  }

  /** A new chat JSONL file from a table with a mapping; the original stays as it is. */
  async convert(
    projectId: string,
    fileId: string,
    mapping: RecordMapping,
  ): Promise<{ file: FileObject; report: Pick<ConvertReport, "written" | "skipped" | "problems" | "problems_omitted"> }> {
    const source = await this.files.get(projectId, fileId);
    const container = await this.container(projectId, fileId);
    const columns = checkedColumns(mapping);
    const scratch = this.files.scratchPath("converted.jsonl");
    const entries = columns ? (["system", "user", "assistant"] as const).flatMap((field) => (columns[field] ?? []).map((column) => `${column}=${field}`)) : [];
    try {
      const report = await convertDataset({
        input: this.files.pathOf(fileId),
        output: scratch,
        from: mapping.layout === "mapped" ? container : mapping.layout,
        map: entries,
        system: mapping.system,
      });
      if (report.written === 0) {
        throw new TunekitError(`no record of \`${source.object.filename}\` converted (${report.skipped} skipped): ${report.problems[0]?.message ?? "no records"}`, {
          kind: "data",
          code: "nothing_converted",
          field: "mapping",
          fix: report.problems[0]?.fix ?? "check the column mapping against the preview",
        });
      }
      const file = await this.files.adopt(projectId, scratch, { filename: derivedName(source.object.filename, "chat"), purpose: "fine-tune" });
      return {
        file,
        report: {
          written: report.written,
          skipped: report.skipped,
          problems: report.problems.slice(0, 100),
          problems_omitted: report.problems_omitted + Math.max(0, report.problems.length - 100),
        },
      };
    } finally {
      await rm(scratch, { force: true });
    }
  }

  /** A new file without the lines the chosen fixes remove. */
  async fix(projectId: string, fileId: string, options: FixRequest): Promise<{ file: FileObject; report: Omit<FixReport, "input" | "output"> }> {
    const source = await this.files.get(projectId, fileId);
    if (source.validation?.sourceFormat && source.validation.sourceFormat !== "jsonl") {
      throw new TunekitError(`\`${source.object.filename}\` is ${source.validation.sourceFormat}: convert it to JSONL before fixing lines`, {
        kind: "usage",
        code: "needs_conversion",
        field: "file_id",
        fix: PROBLEM_CODES.needs_conversion.fix,
      });
    }
    if (!Object.values(options).some((value) => value !== false && value !== null && value !== undefined)) {
      throw new TunekitError("no fix chosen", {
        kind: "usage",
        code: "invalid_request",
        field: "body",
        fix: "set at least one of `drop_invalid`, `drop_duplicates`, `drop_near_duplicates`, `drop_over_context`, `remove_overlap_with`, `strip_bom`",
      });
    }
    let contextLimit: { counter: DatasetTokenCounter; maxTokens: number } | null = null;
    if (options.drop_over_context) {
      const counter = await this.counter(options.drop_over_context.model);
      const maxTokens = options.drop_over_context.max_tokens ?? counter.contextLength;
      if (!maxTokens)
        throw new TunekitError(`the context length of \`${options.drop_over_context.model}\` is unknown`, {
          kind: "usage",
          code: "unknown_context_length",
          field: "drop_over_context.max_tokens",
          fix: "pass `max_tokens`, e.g. the job's `data.max_seq_len`",
        });
      contextLimit = { counter, maxTokens };
    }
    const overlapPath = options.remove_overlap_with ? (await this.files.contentPath(projectId, options.remove_overlap_with)).path : null;
    const scratch = this.files.scratchPath("fixed.jsonl");
    try {
      const report = await fixDataset({
        input: this.files.pathOf(fileId),
        output: scratch,
        dropInvalid: options.drop_invalid,
        dropDuplicates: options.drop_duplicates,
        dropNearDuplicates: options.drop_near_duplicates,
        contextLimit,
        removeOverlapWith: overlapPath,
        stripBom: options.strip_bom,
      });
      if (report.kept === 0) {
        throw new TunekitError(`the fixes would remove every line of \`${source.object.filename}\``, {
          kind: "data",
          code: "nothing_left",
          field: "body",
          fix: "choose fewer fixes, or correct the lines the report lists",
        });
      }
      const file = await this.files.adopt(projectId, scratch, { filename: derivedName(source.object.filename, "fixed"), purpose: "fine-tune" });
      const { input: _input, output: _output, ...rest } = report;
      return { file, report: rest };
    } finally {
      await rm(scratch, { force: true });
    }
  }

  /** Deterministic train/validation split of a file into two new files. */
  async split(
    projectId: string,
    fileId: string,
    options: { validation: number; seed: number },
  ): Promise<{ train: FileObject; validation: FileObject; report: Pick<SplitReport, "examples" | "groups" | "warnings"> }> {
    const source = await this.files.get(projectId, fileId);
    const folder = this.files.scratchPath("split");
    await mkdir(folder, { recursive: true });
    try {
      const stem = basename(source.object.filename, extname(source.object.filename));
      const input = join(folder, `${stem}.jsonl`);
      const { path } = await this.files.contentPath(projectId, fileId);
      await copyFile(path, input);
      const report = await splitDataset({ file: input, validation: options.validation, test: 0, seed: options.seed, outDir: folder });
      if (!report.splits.train.file || !report.splits.validation.file || report.splits.validation.examples === 0 || report.splits.train.examples === 0) {
        throw new TunekitError(`a ${Math.round(options.validation * 100)} % split of ${report.examples} examples leaves one side empty`, {
          kind: "usage",
          code: "invalid_ratio",
          field: "validation",
          fix: "use a larger file or another fraction",
        });
      }
      const trainScratch = this.files.scratchPath("train.jsonl");
      const validationScratch = this.files.scratchPath("validation.jsonl");
      await rename(report.splits.train.file, trainScratch);
      await rename(report.splits.validation.file, validationScratch);
      const train = await this.files.adopt(projectId, trainScratch, { filename: `${stem}.train.jsonl`, purpose: "fine-tune" });
      const validation = await this.files.adopt(projectId, validationScratch, { filename: `${stem}.validation.jsonl`, purpose: "fine-tune" });
      return { train, validation, report: { examples: report.examples, groups: report.groups, warnings: report.warnings } };
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
  }

  /** Token statistics with a model's tokenizer and chat template. */
  async stats(projectId: string, fileId: string, model: string): Promise<DatasetStats> {
    const { path, file } = await this.files.contentPath(projectId, fileId);
    const stats = await computeDatasetStats(path, await this.counter(model), { model, histogramBins: 20 });
    return { ...stats, file: file.filename };
  }

  /** The token counter of a base model of this server (or an OpenAI model name), loaded once. */
  counter(model: string): Promise<DatasetTokenCounter> {
    const source = this.catalog.resolve(model)?.source ?? model;
    let counter = this.counters.get(source);
    if (!counter) {
      counter = loadTokenCounter(source);
      counter.catch(() => this.counters.delete(source));
      this.counters.set(source, counter);
    }
    return counter;
  }

  /** How the file's bytes are laid out (known once its validation has run). */
  private async container(projectId: string, fileId: string): Promise<RecordFileFormat> {
    await this.files.get(projectId, fileId);
    await this.files.whenValidated(fileId);
    return (await this.files.get(projectId, fileId)).validation?.sourceFormat ?? "jsonl";
  }
}

/** The columns of a `mapped` layout, checked: at least one for user and one for assistant. */
function checkedColumns(mapping: RecordMapping): ColumnMapping | null {
  if (mapping.layout !== "mapped") return null;
  const columns: ColumnMapping = { system: mapping.columns?.system ?? [], user: mapping.columns?.user ?? [], assistant: mapping.columns?.assistant ?? [] };
  for (const field of ["user", "assistant"] as const) {
    if (columns[field].length === 0)
      throw new TunekitError(`no column is mapped to \`${field}\``, {
        kind: "usage",
        code: "missing_field",
        field: `columns.${field}`,
        fix: `pick the column that holds the ${field === "user" ? "question or instruction" : "answer"}`,
      });
  }
  return columns;
}

function converter(mapping: RecordMapping, columns: ColumnMapping | null): (value: unknown) => RecordConversion {
  if (mapping.layout === "alpaca") return (value) => convertAlpacaRecord(value, { system: mapping.system });
  if (mapping.layout === "sharegpt") return (value) => convertSharegptRecord(value, { system: mapping.system });
  return (value) => convertMappedRecord(value, columns, { system: mapping.system });
}

const USER_NAMES = ["prompt", "user", "question", "input", "instruction", "query", "customer", "text", "message"];
const ASSISTANT_NAMES = ["completion", "assistant", "answer", "output", "response", "reply", "agent", "label", "target"];

/** A mapping guessed from column names (the user confirms or changes it in the form). */
export function suggestMapping(columns: readonly string[]): RecordMapping {
  const lower = columns.map((column) => column.toLowerCase());
  if (lower.includes("conversations")) return { layout: "sharegpt" };
  if (lower.includes("instruction") && lower.includes("output")) return { layout: "alpaca" };
  const pick = (names: readonly string[], taken: Set<string>) => {
    for (const name of names) {
      const index = lower.indexOf(name);
      if (index !== -1 && !taken.has(columns[index] as string)) return columns[index] as string;
    }
    return undefined;
  };
  const taken = new Set<string>();
  const system = pick(["system", "system_prompt"], taken);
  if (system) taken.add(system);
  const user = pick(USER_NAMES, taken);
  if (user) taken.add(user);
  const assistant = pick(ASSISTANT_NAMES, taken);
  return { layout: "mapped", columns: { system: system ? [system] : [], user: user ? [user] : [], assistant: assistant ? [assistant] : [] } };
}

function derivedName(filename: string, label: string): string {
  const stem = basename(filename, extname(filename));
  return `${stem}.${label}.jsonl`;
}
