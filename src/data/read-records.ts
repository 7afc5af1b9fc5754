import { open, readFile } from "node:fs/promises";
import { createReadStream } from "node:fs";
import { extname } from "node:path";
import * as zlib from "node:zlib";
import { parse as parseCsv } from "csv-parse";
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects, parquetSchema } from "hyparquet";
import { TunekitError } from "../core/errors.js";
import { assertInputFile } from "../core/input-file.js";
import { readLines } from "./read-lines.js";
import type { ReaderOptions } from "./decode/reader-options.js";

export type { ReaderOptions, TextEncoding } from "./decode/reader-options.js";

/**
 * Reads tabular and JSON record files one record at a time: CSV/TSV (csv-parse, streaming), JSON
 * Lines (streaming), a JSON top-level array (parsed whole: JSON has no streaming boundary), and
 * Parquet (hyparquet, one row group at a time, only the columns asked for).
 */
export type RecordFileFormat = "csv" | "tsv" | "json" | "jsonl" | "parquet";

export const RECORD_FILE_FORMATS: readonly RecordFileFormat[] = ["csv", "tsv", "json", "jsonl", "parquet"];

/** A record that could not be parsed, with what to do about it. */
export interface RecordProblem {
  code: string;
  message: string;
  fix: string;
}

export interface SourceRecord {
  /** 1-based position among the file's records (a CSV header and blank JSONL lines are not rows) */
  row: number;
  /** 1-based line where the record starts (CSV, TSV, JSONL); absent for JSON arrays and Parquet */
  line?: number;
  /** the parsed record; absent when `problem` is set */
  value?: unknown;
  problem?: RecordProblem;
}

export interface RecordReader {
  /** column names from the CSV header or the Parquet schema; null for JSON and JSONL */
  columns: string[] | null;
  records: AsyncIterable<SourceRecord>;
}

/**
 * Everything openRecords accepts: the reader options every data command shares (`--encoding`,
 * `--json-key`, `--split`; see src/cli/reader-options.ts) plus the columns to read.
 */
export interface OpenRecordsOptions extends ReaderOptions {
  /** Parquet and Arrow only: read just these columns (names not in the file are ignored) */
  columns?: string[];
}

const EXTENSION_FORMATS: Record<string, RecordFileFormat> = {
  ".csv": "csv",
  ".tsv": "tsv",
  ".tab": "tsv",
  ".json": "json",
  ".jsonl": "jsonl",
  ".ndjson": "jsonl",
  ".parquet": "parquet",
  ".pq": "parquet",
};

/** The record format a file's extension names, or null. */
export function recordFormatFromPath(path: string): RecordFileFormat | null {
  return EXTENSION_FORMATS[extname(path).toLowerCase()] ?? null;
}

/**
 * Whether a `.json` file holds a top-level array (`json`) or one object per line (`jsonl`):
 * looks at the first non-whitespace byte only.
 */
export async function sniffJsonContainer(path: string): Promise<"json" | "jsonl"> {
  const handle = await open(path, "r");
  try {
    const buffer = Buffer.alloc(4096);
    for (let position = 0; ; ) {
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, position);
      if (bytesRead === 0) return "jsonl";
      const text = buffer.subarray(0, bytesRead).toString("utf8").replace(/^\uFEFF/, "");
      const first = text.trimStart()[0];
      if (first !== undefined) return first === "[" ? "json" : "jsonl";
      position += bytesRead;
    }
  } finally {
    await handle.close();
  }
}

export async function openRecords(path: string, format: RecordFileFormat, options: OpenRecordsOptions = {}): Promise<RecordReader> {
  await assertReadable(path);
  switch (format) {
    case "csv":
      return openDelimited(path, ",");
    case "tsv":
      return openDelimited(path, "\t");
    case "jsonl":
      return { columns: null, records: readJsonLines(path) };
    case "json":
      return { columns: null, records: await readJsonArray(path) };
    case "parquet":
      return openParquet(path, options.columns);
  }
}

async function assertReadable(path: string): Promise<void> {
  await assertInputFile(path);
}

async function* readJsonLines(path: string): AsyncGenerator<SourceRecord> {
  let row = 0;
  for await (const { line, text } of readLines(path)) {
    const trimmed = line === 1 ? text.replace(/^\uFEFF/, "").trim() : text.trim();
    if (trimmed === "") continue;
    row += 1;
    try {
      yield { row, line, value: JSON.parse(trimmed) };
    } catch (error) {
      yield {
        row,
        line,
        problem: {
          code: "invalid_json",
          message: `line ${line} is not valid JSON (${(error as Error).message})`,
          fix: "write one JSON object per line; check quotes, commas and brackets on that line",
        },
      };
    }
  }
}

async function readJsonArray(path: string): Promise<AsyncIterable<SourceRecord>> {
  const text = (await readFile(path, "utf8")).replace(/^\uFEFF/, "");
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new TunekitError(`\`${path}\` is not valid JSON (${(error as Error).message})`, {
      kind: "data",
      code: "invalid_json",
      file: path,
      fix: "a .json file must hold one top-level array of records; for one JSON object per line use --from jsonl",
    });
  }
  if (!Array.isArray(parsed)) {
    throw new TunekitError(`\`${path}\` holds a JSON ${parsed === null ? "null" : typeof parsed}, not an array of records`, {
      kind: "data",
      code: "not_an_array",
      file: path,
      fix: "wrap the records in one top-level array `[{...}, {...}]`, or write one object per line and use --from jsonl",
    });
  }
  const elements = parsed;
  return (async function* () {
    for (let index = 0; index < elements.length; index++) yield { row: index + 1, value: elements[index] };
  })();
}

const NEWLINES = /\r\n|\n|\r/g;
const LEADING_NEWLINES = /^(?:\r\n|\n|\r)+/;

async function openDelimited(path: string, delimiter: string): Promise<RecordReader> {
  let header: string[] = [];
  const parser = createReadStream(path).pipe(
    parseCsv({
      delimiter,
      bom: true,
      columns: (names: string[]) => {
        header = names.map((name) => name.trim());
        return header;
      },
      info: true,
      raw: true,
      relax_column_count: true,
      // TSV exports often hold bare quotes inside fields ("5" tall)
      relax_quotes: delimiter === "\t",
      skip_empty_lines: true,
    }),
  );
  const iterator = (parser as AsyncIterable<{ record: Record<string, string>; raw: string; info: { error?: { code: string } } }>)[
    Symbol.asyncIterator
  ]();
  const csvError = (error: unknown): TunekitError => {
    const details = error as { message?: string; lines?: number };
    return new TunekitError(`\`${path}\` is not valid ${delimiter === "\t" ? "TSV" : "CSV"}: ${details.message ?? String(error)}`, {
      kind: "data",
      code: "invalid_csv",
      file: path,
      ...(details.lines !== undefined && { line: details.lines }),
      fix: "close every quoted field; fields holding the delimiter, quotes or line breaks must be quoted with `\"` (and quotes inside doubled `\"\"`)",
    });
  };
  let first: IteratorResult<{ record: Record<string, string>; raw: string; info: { error?: { code: string } } }>;
  try {
    first = await iterator.next();
  } catch (error) {
    throw csvError(error);
  }
  const columns = header;
  async function* records(): AsyncGenerator<SourceRecord> {
    // csv-parse counts lines at the end of a record; the start line is what users look for, so
    // count the line breaks of each raw record ourselves (the header is line 1)
    let linesConsumed = 1;
    let row = 0;
    let current = first;
    while (!current.done) {
      const { record, raw, info } = current.value;
      row += 1;
      const leading = LEADING_NEWLINES.exec(raw)?.[0] ?? "";
      const line = linesConsumed + (leading.match(NEWLINES)?.length ?? 0) + 1;
      linesConsumed += raw.match(NEWLINES)?.length ?? 0;
      if (info.error?.code === "CSV_RECORD_INCONSISTENT_COLUMNS") {
        const fields = Object.keys(record).length;
        yield {
          row,
          line,
          problem: {
            code: "wrong_field_count",
            message: `line ${line} has ${fields === columns.length ? "more" : fields} fields, the header has ${columns.length}`,
            fix: "quote fields that contain the delimiter or line breaks, or add the missing fields",
          },
        };
      } else {
        yield { row, line, value: record };
      }
      try {
        current = await iterator.next();
      } catch (error) {
        throw csvError(error);
      }
    }
  }
  return { columns, records: records() };
}

type Decompress = (input: Uint8Array, outputLength: number) => Uint8Array;

/**
 * Decompressors beyond hyparquet's built-in Snappy, from node:zlib (no extra dependency): GZIP and
 * BROTLI always, ZSTD where the Node version has it (22.15+). LZ4 files need re-saving.
 */
export function parquetDecompressors(): Record<string, Decompress> {
  const decompressors: Record<string, Decompress> = {
    GZIP: (input) => new Uint8Array(zlib.gunzipSync(input)),
    BROTLI: (input) => new Uint8Array(zlib.brotliDecompressSync(input)),
  };
  const zstd = (zlib as unknown as { zstdDecompressSync?: (input: Uint8Array) => Buffer }).zstdDecompressSync;
  if (typeof zstd === "function") decompressors.ZSTD = (input) => new Uint8Array(zstd(input));
  return decompressors;
}

async function openParquet(path: string, wanted: string[] | undefined): Promise<RecordReader> {
  const file = await asyncBufferFromFile(path);
  let metadata: Awaited<ReturnType<typeof parquetMetadataAsync>>;
  try {
    metadata = await parquetMetadataAsync(file);
  } catch (error) {
    throw new TunekitError(`\`${path}\` is not a Parquet file (${(error as Error).message})`, {
      kind: "data",
      code: "invalid_parquet",
      file: path,
      fix: "check the file, or pass --from with its real format",
    });
  }
  const columns = parquetSchema(metadata).children.map((child) => child.element.name);
  const selected = wanted === undefined ? undefined : columns.filter((name) => wanted.includes(name));
  const compressors = parquetDecompressors();
  async function* records(): AsyncGenerator<SourceRecord> {
    let rowStart = 0;
    let row = 0;
    // one row group at a time: memory holds a row group, never the whole file
    for (const group of metadata.row_groups) {
      const rowEnd = rowStart + Number(group.num_rows);
      let rows: Record<string, unknown>[];
      try {
        rows = await parquetReadObjects({ file, metadata, rowStart, rowEnd, compressors, ...(selected && { columns: selected }) });
      } catch (error) {
        const message = (error as Error).message;
        const codec = /unsupported compression codec: (\w+)/.exec(message)?.[1];
        throw new TunekitError(`cannot read rows ${rowStart + 1}-${rowEnd} of \`${path}\`: ${message}`, {
          kind: "data",
          code: codec ? "unsupported_compression" : "invalid_parquet",
          file: path,
          fix: codec
            ? `re-save the file with snappy, gzip or brotli compression (pyarrow: pq.write_table(table, path, compression="snappy"))`
            : "check that the file is complete and readable by another Parquet reader",
        });
      }
      for (const value of rows) {
        row += 1;
        yield { row, value: plainValue(value) };
      }
      rowStart = rowEnd;
    }
  }
  return { columns, records: records() };
}

/** Parquet values as JSON-friendly values: bigint to number (or string past 2^53), dates to ISO text. */
function plainValue(value: unknown): unknown {
  if (typeof value === "bigint") {
    return value <= BigInt(Number.MAX_SAFE_INTEGER) && value >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(value) : value.toString();
  }
  if (value instanceof Date) return value.toISOString();
  if (value instanceof Uint8Array) return Buffer.from(value).toString("utf8");
  if (Array.isArray(value)) return value.map(plainValue);
  if (value !== null && typeof value === "object") {
    const result: Record<string, unknown> = {};
    for (const [key, entry] of Object.entries(value)) result[key] = plainValue(entry);
    return result;
  }
  return value;
}
