import { createWriteStream } from "node:fs";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { extname, join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import * as zlib from "node:zlib";
import { parse as parseCsv } from "csv-parse";
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects, parquetSchema } from "hyparquet";
import { TunekitError } from "../core/errors.js";
import { assertInputFile } from "../core/input-file.js";
import { readLines } from "./read-lines.js";
import { resolveSplit } from "./decode/dataset-folder.js";
import type { ReaderOptions, TextEncoding } from "./decode/reader-options.js";
import { checkedUtf8, effectiveEncoding, readSourceHead, sourceBytes, utf8Bytes, type Compression, type SourceHead } from "./decode/source-bytes.js";

export type { ReaderOptions, TextEncoding } from "./decode/reader-options.js";
export type { Compression } from "./decode/source-bytes.js";

/**
 * The one reader of dataset records for every data command: CSV/TSV (csv-parse, streaming), JSON
 * Lines (streaming), a JSON top-level array or a `{"key": [...]}` wrapper (parsed whole: JSON has
 * no streaming boundary), Parquet (hyparquet, one row group at a time, only the columns asked
 * for), Arrow IPC (apache-arrow, one batch at a time), and dataset folders (Hugging Face
 * save_to_disk, or split files; `--split` picks one). Under every format: gzip and zstd are
 * decompressed as the file streams (magic bytes, not the name), UTF-16 with a byte order mark and
 * `--encoding` latin1/windows-1252 are transcoded, and bytes that are not UTF-8 are refused with
 * the line and the `--encoding` fix (a JSONL line: a problem record), never read as U+FFFD.
 */
export type RecordFileFormat = "csv" | "tsv" | "json" | "jsonl" | "parquet";

/** What openRecords reads: the record file formats, plus Arrow IPC (save_to_disk folders, `.arrow` files). */
export type ReadableFormat = RecordFileFormat | "arrow";

/** A record that could not be parsed, with what to do about it. */
export interface RecordProblem {
  code: string;
  message: string;
  fix: string;
}

export interface SourceRecord {
  /** 1-based position among the file's records (a CSV header and blank JSONL lines are not rows) */
  row: number;
  /** 1-based line where the record starts (CSV, TSV, JSONL); absent for JSON arrays, Parquet and Arrow */
  line?: number;
  /** the parsed record; absent when `problem` is set */
  value?: unknown;
  problem?: RecordProblem;
  /** the shard the record is in, when a folder's split has several files */
  file?: string;
}

export interface RecordReader {
  /** column names from the CSV header or the Parquet/Arrow schema; null for JSON and JSONL */
  columns: string[] | null;
  records: AsyncIterable<SourceRecord>;
  /** the format read (a folder: its split files' format) */
  format: ReadableFormat;
  /** gzip or zstd when the file was compressed */
  compression: Compression | null;
  /** the text encoding read with (a UTF-16 byte order mark wins over `--encoding`) */
  encoding: TextEncoding;
  /** the files read: the path itself, or a folder split's files */
  files: string[];
  /** a dataset folder: the split read and every split found */
  split?: { name: string; splits: string[]; layout: string };
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

const COMPRESSION_EXTENSION = /\.(gz|gzip|zst|zstd)$/i;

/** The record format a file's extension names (`.csv.gz` is csv), or null. */
export function recordFormatFromPath(path: string): RecordFileFormat | null {
  return EXTENSION_FORMATS[extname(path.replace(COMPRESSION_EXTENSION, "")).toLowerCase()] ?? null;
}

/** The first bytes of the content as text, for sniffing (decompressed, decoded per the encoding). */
function headText(head: SourceHead, encoding: TextEncoding | undefined): string {
  const effective = effectiveEncoding(head, encoding);
  const bytes = head.head;
  const text = effective === "utf-8" ? bytes.toString("utf8") : effective === "latin1" ? bytes.toString("latin1") : new TextDecoder(effective).decode(bytes);
  return text.replace(/^\uFEFF/, "");
}

/** JSON text that is one document (an array, or a pretty-printed object) rather than one object a line. */
function isJsonDocument(text: string): boolean {
  const trimmed = text.trimStart();
  const first = trimmed[0];
  if (first !== "[" && first !== "{") return false;
  const newline = trimmed.indexOf("\n");
  const firstLine = (newline === -1 ? trimmed : trimmed.slice(0, newline)).trim();
  try {
    JSON.parse(firstLine);
  } catch {
    // `[` or `{` opening a document that goes on past its first line
    return first === "[" || /[[{,:]$/.test(firstLine) || firstLine === "{";
  }
  // one complete value on the first line: JSON Lines, unless it is a lone array
  return first === "[" && (newline === -1 || trimmed.slice(newline + 1).trim() === "");
}

/**
 * The format of a file from its content (magic bytes, the first text) and its name: what `auto`
 * reads it as. A `.json` holding one object per line is jsonl; a `.txt` holding a JSON array is json.
 */
export async function detectRecordFormat(path: string, options: ReaderOptions = {}, known?: SourceHead): Promise<ReadableFormat> {
  const head = known ?? (await readSourceHead(path));
  const bytes = head.head;
  if (bytes.subarray(0, 4).toString("latin1") === "PAR1") return "parquet";
  if (bytes.subarray(0, 6).toString("latin1") === "ARROW1" || (bytes.readUInt32LE(0) === 0xffffffff && bytes.length >= 8)) return "arrow";
  if (/\.arrow$/i.test(path.replace(COMPRESSION_EXTENSION, ""))) return "arrow";
  const named = recordFormatFromPath(path);
  if (named === "csv" || named === "tsv" || named === "parquet") return named;
  if (options.jsonKey !== undefined) return "json";
  return isJsonDocument(headText(head, options.encoding)) ? "json" : "jsonl";
}

/**
 * Whether a `.json` file holds a top-level array or wrapper object (`json`) or one object per line
 * (`jsonl`), looking through compression and encodings at the first bytes only.
 */
export async function sniffJsonContainer(path: string, options: ReaderOptions = {}): Promise<"json" | "jsonl"> {
  const head = await readSourceHead(path);
  if (options.jsonKey !== undefined) return "json";
  return isJsonDocument(headText(head, options.encoding)) ? "json" : "jsonl";
}

/**
 * Open a dataset file or folder for reading record by record. `format` "auto" (the default)
 * detects it (see detectRecordFormat); a folder is always detected, file by file.
 */
export async function openRecords(path: string, format: ReadableFormat | "auto" = "auto", options: OpenRecordsOptions = {}): Promise<RecordReader> {
  let isDirectory = false;
  try {
    isDirectory = (await stat(path)).isDirectory();
  } catch {
    // assertInputFile says why
  }
  if (isDirectory) return openFolder(path, options);
  await assertInputFile(path);
  const head = await readSourceHead(path);
  const resolved = format === "auto" ? await detectRecordFormat(path, options, head) : format;
  const base = { format: resolved, compression: head.compression, encoding: effectiveEncoding(head, options.encoding), files: [path] };
  switch (resolved) {
    case "csv":
      return { ...base, ...(await openDelimited(path, ",", options, head)) };
    case "tsv":
      return { ...base, ...(await openDelimited(path, "\t", options, head)) };
    case "jsonl":
      return { ...base, columns: null, records: readJsonLines(path, options) };
    case "json":
      return { ...base, columns: null, records: await readJsonArray(path, options, head) };
    case "parquet":
      return { ...base, ...(await openParquet(path, options.columns, head)) };
    case "arrow": {
      // apache-arrow is big: loaded only for Arrow input
      const { readArrowRows } = await import("./decode/read-arrow.js");
      const { columns, rows } = await readArrowRows(path, sourceBytes(path, {}, head), options.columns);
      return { ...base, columns, records: numbered(rows) };
    }
  }
}

async function* numbered(rows: AsyncIterable<Record<string, unknown>>): AsyncGenerator<SourceRecord> {
  let row = 0;
  for await (const value of rows) yield { row: ++row, value };
}

/** A folder's split, its files read one after another (rows numbered across them). */
async function openFolder(path: string, options: OpenRecordsOptions): Promise<RecordReader> {
  const { folder, split, files } = await resolveSplit(path, options.split);
  const first = await openRecords(files[0] as string, "auto", { ...options, split: undefined });
  async function* records(): AsyncGenerator<SourceRecord> {
    let row = 0;
    for (let index = 0; index < files.length; index++) {
      const file = files[index] as string;
      const reader = index === 0 ? first : await openRecords(file, "auto", { ...options, split: undefined });
      for await (const record of reader.records) {
        row += 1;
        yield { ...record, row, ...(files.length > 1 && { file }) };
      }
    }
  }
  return {
    ...first,
    records: records(),
    files,
    split: { name: split, splits: [...folder.splits.keys()], layout: folder.layout },
  };
}

async function* readJsonLines(path: string, options: ReaderOptions): AsyncGenerator<SourceRecord> {
  let row = 0;
  for await (const { line, text, validUtf8 } of readLines(path, { encoding: options.encoding })) {
    const trimmed = line === 1 ? text.replace(/^\uFEFF/, "").trim() : text.trim();
    if (trimmed === "") continue;
    row += 1;
    if (!validUtf8) {
      yield {
        row,
        line,
        problem: {
          code: "invalid_utf8",
          message: `line ${line} is not UTF-8 (the file looks like Windows-1252 or Latin-1)`,
          fix: "pass `--encoding windows-1252` (or `--encoding latin1`) to read it as it is, or re-save the file as UTF-8",
        },
      };
      continue;
    }
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

function isRecordList(value: unknown): boolean {
  return Array.isArray(value) && value.length > 0 && value.every((entry) => entry !== null && typeof entry === "object" && !Array.isArray(entry));
}

async function readJsonArray(path: string, options: ReaderOptions, head: SourceHead): Promise<AsyncIterable<SourceRecord>> {
  const parts: Buffer[] = [];
  for await (const chunk of checkedUtf8(path, utf8Bytes(path, { encoding: options.encoding }, head))) parts.push(chunk);
  const text = Buffer.concat(parts)
    .toString("utf8")
    .replace(/^\uFEFF/, "");
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
  const key = options.jsonKey;
  if (key !== undefined) {
    if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
      throw new TunekitError(
        `\`--json-key ${key}\` needs a JSON object, but \`${path}\` holds ${Array.isArray(parsed) ? "an array" : `a ${parsed === null ? "null" : typeof parsed}`}`,
        {
          kind: "usage",
          code: "json_key_not_applicable",
          file: path,
          field: "--json-key",
          fix: Array.isArray(parsed) ? "drop `--json-key`: the file's top level is already the list of records" : "check the file",
        },
      );
    }
    const keys = Object.keys(parsed);
    if (!(key in parsed)) {
      throw new TunekitError(`\`${path}\` has no key \`${key}\`; its keys are ${keys.map((name) => `\`${name}\``).join(", ") || "none"}`, {
        kind: "usage",
        code: "json_key_not_found",
        file: path,
        field: "--json-key",
        fix: `pass the key that holds the records${keys[0] === undefined ? "" : `, e.g. \`--json-key ${keys[0]}\``}`,
      });
    }
    parsed = (parsed as Record<string, unknown>)[key];
    if (!Array.isArray(parsed)) {
      throw new TunekitError(`\`${key}\` in \`${path}\` holds a JSON ${parsed === null ? "null" : typeof parsed}, not an array of records`, {
        kind: "usage",
        code: "not_an_array",
        file: path,
        field: "--json-key",
        fix: "name the key whose value is the list of records",
      });
    }
  }
  if (!Array.isArray(parsed)) {
    const arrays = parsed !== null && typeof parsed === "object" ? Object.entries(parsed).filter(([, value]) => isRecordList(value)) : [];
    // one list of records under one key (`{"data": [...]}`): refused with the key named, not guessed,
    // so the same command reads the same records when a key is added to the file later
    if (arrays.length === 1) {
      const [name, value] = arrays[0] as [string, unknown[]];
      throw new TunekitError(
        `\`${path}\` is a JSON object whose ${value.length} record${value.length === 1 ? "" : "s"} ${value.length === 1 ? "is" : "are"} under \`${name}\`: pass \`--json-key ${name}\` to read ${value.length === 1 ? "it" : "them"}`,
        {
          kind: "usage",
          code: "json_key_needed",
          file: path,
          field: "--json-key",
          fix: `add \`--json-key ${name}\``,
        },
      );
    }
    if (arrays.length > 1) {
      throw new TunekitError(`\`${path}\` is a JSON object with several lists of records (${arrays.map(([name]) => `\`${name}\``).join(", ")}): name one with \`--json-key\``, {
        kind: "usage",
        code: "json_key_needed",
        file: path,
        field: "--json-key",
        fix: `add e.g. \`--json-key ${arrays[0]?.[0]}\``,
      });
    }
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

async function openDelimited(path: string, delimiter: string, options: ReaderOptions, head: SourceHead): Promise<Pick<RecordReader, "columns" | "records">> {
  let header: string[] = [];
  const source = Readable.from(checkedUtf8(path, utf8Bytes(path, { encoding: options.encoding }, head)));
  const parser = source.pipe(
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
  // pipe() does not forward errors: a decode error (not UTF-8, broken gzip) ends the parse with its own message
  source.on("error", (error) => parser.destroy(error));
  const iterator = (parser as AsyncIterable<{ record: Record<string, string>; raw: string; info: { error?: { code: string } } }>)[Symbol.asyncIterator]();
  const csvError = (error: unknown): TunekitError => {
    if (error instanceof TunekitError) return error;
    const details = error as { message?: string; lines?: number };
    return new TunekitError(`\`${path}\` is not valid ${delimiter === "\t" ? "TSV" : "CSV"}: ${details.message ?? String(error)}`, {
      kind: "data",
      code: "invalid_csv",
      file: path,
      ...(details.lines !== undefined && { line: details.lines }),
      fix: 'close every quoted field; fields holding the delimiter, quotes or line breaks must be quoted with `"` (and quotes inside doubled `""`)',
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

/** A compressed Parquet file decompressed to a temporary file (Parquet needs random access); removed at exit. */
async function decompressedCopy(path: string, head: SourceHead): Promise<string> {
  const folder = await mkdtemp(join(tmpdir(), "tunekit-parquet-"));
  process.once("exit", () => {
    void rm(folder, { recursive: true, force: true });
  });
  const copy = join(folder, "data.parquet");
  await pipeline(Readable.from(sourceBytes(path, {}, head)), createWriteStream(copy));
  return copy;
}

async function openParquet(path: string, wanted: string[] | undefined, head: SourceHead): Promise<Pick<RecordReader, "columns" | "records">> {
  const file = await asyncBufferFromFile(head.compression === null ? path : await decompressedCopy(path, head));
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
