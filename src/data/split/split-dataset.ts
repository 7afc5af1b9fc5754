import { createWriteStream, type WriteStream } from "node:fs";
import { mkdir, rename, rm } from "node:fs/promises";
import { once } from "node:events";
import { basename, dirname, extname, join, resolve } from "node:path";
import { parse as parseCsv } from "csv-parse";
import { TunekitError } from "../../core/errors.js";
import { assertInputFile, inputFileError } from "../../core/input-file.js";
import { detectFormat } from "../../spec/dataset.js";
import { readLines } from "../read-lines.js";
import { Readable } from "node:stream";
import { utf8Bytes } from "../decode/source-bytes.js";
import { openRecords, recordFormatFromPath, sniffJsonContainer, type ReaderOptions } from "../read-records.js";
import { exampleText, hash64, normalizeText, promptText, type Hash64 } from "../validate/fingerprint.js";
import { HashIndex } from "../validate/hash-index.js";

/**
 * `tunekit data split`: train/validation/test files from one JSONL file, deterministic for a
 * seed, with no example in two splits.
 *
 * Examples are grouped by a 64-bit hash of their normalised text (lower case, whitespace runs
 * collapsed; key order and JSON spacing never matter). With `groupBy: "example"` (the default)
 * exact duplicates of the whole example stay in one split. With `groupBy: "prompt"` the group is
 * the normalised user side, so the same question with two answers stays in one split too (what
 * `tunekit data validate` reports as train/validation overlap); it is not the default because a
 * dataset whose user turn is a fixed instruction ("Summarize.") would become one group.
 *
 * How groups are assigned: a seeded shuffle of the groups, where the shuffle order is each
 * group's hash re-hashed with the seed, not a PRNG stream. We chose it over the other common
 * method, a per-example hash threshold (split = "test" when hash(seed, example) < 0.1, which
 * needs no memory at all), because thresholds only give the ratios on average: 300 examples at
 * 10 % land anywhere from about 20 to 40 in validation, and fine-tuning sets are small. Ranking
 * the groups by their seeded hash gives exact sizes (round(N * ratio)) and, since the order
 * depends only on content and seed, the same assignment whatever the order of lines in the file.
 * The price is a table of the groups in typed arrays (a 64-bit-keyed hash index, counts, ranks:
 * under 100 bytes a distinct group), never the examples themselves.
 *
 * Two streaming passes over the file: pass 1 hashes and counts, pass 2 writes each line, byte for
 * byte (without its line ending), to its split; within a split the input order is kept.
 *
 * CSV and TSV are split as tables, never as lines: each split is a CSV (TSV) file that starts with
 * the input's header row (and its BOM, so Excel still reads it as UTF-8), followed by whole
 * records copied byte for byte, quoted fields with line breaks, commas and CRLF included. We keep
 * the table rather than writing JSONL because the columns are not messages yet: mapping them is
 * `tunekit data convert`'s job (with --map), and a split that stays a CSV opens in the same tools
 * and converts with the same --map. Records are grouped by their normalised fields.
 * The bytes are the reader's: gzip/zstd decompressed, `--encoding` (and a UTF-16 byte order mark)
 * transcoded, so the splits are plain UTF-8. A JSON array, a Parquet or an Arrow file has no lines
 * to copy: its splits are written as JSONL, one record a line (what every other data command
 * reads). Text that is not UTF-8 stops the split with its line (decoding it would write U+FFFD).
 */
export type SplitName = "train" | "validation" | "test";
export type SplitGrouping = "prompt" | "example";

export interface SplitDatasetOptions {
  file: string;
  /** fraction of examples for validation, 0 <= x < 1 */
  validation: number;
  /** fraction of examples for test, 0 <= x < 1 */
  test: number;
  seed: number;
  /** where to write the splits; default: the folder of `file` */
  outDir?: string;
  groupBy?: SplitGrouping;
  /** --encoding and --json-key, as every data command reads them */
  reader?: ReaderOptions;
}

export interface SplitFileReport {
  /** null when the split was not asked for (ratio 0) */
  file: string | null;
  examples: number;
}

/** How the input is read: lines (jsonl), a table (csv, tsv), or records (json array, parquet). */
export type SplitInputFormat = "jsonl" | "csv" | "tsv" | "json" | "parquet" | "arrow";
/** What the splits are written as. */
export type SplitOutputFormat = "jsonl" | "csv" | "tsv";

export interface SplitReport {
  input: string;
  input_format: SplitInputFormat;
  /** the format of the split files: csv/tsv (with the header) for a table, else jsonl */
  format: SplitOutputFormat;
  seed: number;
  group_by: SplitGrouping;
  /** non-blank lines */
  examples: number;
  /** distinct groups (examples - groups = examples that had a duplicate) */
  groups: number;
  blank_lines: number;
  /** lines that are not a JSON object of a known format: grouped by their normalised text */
  unparsable_lines: number;
  splits: Record<SplitName, SplitFileReport>;
  warnings: string[];
}

const SPLIT_NAMES: readonly SplitName[] = ["train", "validation", "test"];
const TRAIN = 0;
const VALIDATION = 1;
const TEST = 2;

/** The group key of one line and whether it parsed as an example. */
export function splitGroupKey(text: string, groupBy: SplitGrouping): { key: Hash64; parsed: boolean } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  const format = parsed === undefined ? null : detectFormat(parsed);
  if (format === null) return { key: hash64(`raw\u0000${normalizeText(text)}`), parsed: false };
  const example = parsed as Record<string, unknown>;
  const prompt = groupBy === "prompt" ? normalizeText(promptText(example, format)) : "";
  // an example without a user side (e.g. only an assistant turn) falls back to its whole text
  const content = prompt !== "" ? `prompt\u0000${prompt}` : `example\u0000${normalizeText(exampleText(example, format))}`;
  return { key: hash64(content), parsed: true };
}

/** Growable list of uint32 (4 bytes an entry instead of a JS array's 8). */
class Uint32List {
  private values = new Uint32Array(1024);
  length = 0;
  push(value: number): void {
    if (this.length === this.values.length) {
      const grown = new Uint32Array(this.values.length * 2);
      grown.set(this.values);
      this.values = grown;
    }
    this.values[this.length++] = value;
  }
  get(index: number): number {
    return this.values[index] as number;
  }
  increment(index: number): void {
    (this.values[index] as number) += 1;
  }
}

export function splitOutputPaths(file: string, outDir?: string, format: SplitOutputFormat = "jsonl"): Record<SplitName, string> {
  const directory = outDir ?? dirname(file);
  // `faq.csv.gz` -> `faq`: the splits are written decompressed
  const name = basename(file).replace(/\.(gz|gzip|zst|zstd)$/i, "");
  const stem = basename(name, extname(name));
  return {
    train: join(directory, `${stem}.train.${format}`),
    validation: join(directory, `${stem}.validation.${format}`),
    test: join(directory, `${stem}.test.${format}`),
  };
}

/** The input's format: from the extension (a .json file holding one object a line is jsonl); jsonl otherwise. */
export async function splitInputFormat(file: string, reader: ReaderOptions = {}): Promise<SplitInputFormat> {
  const format = recordFormatFromPath(file);
  if (format === "json") return sniffJsonContainer(file, reader).catch(() => "json" as const);
  return format ?? "jsonl";
}

export function splitOutputFormat(input: SplitInputFormat): SplitOutputFormat {
  return input === "csv" || input === "tsv" ? input : "jsonl";
}

/** The files a split of `file` writes (for the CLI's overwrite check). */
export async function splitOutputPathsFor(file: string, outDir?: string, reader: ReaderOptions = {}): Promise<Record<SplitName, string>> {
  return splitOutputPaths(file, outDir, splitOutputFormat(await splitInputFormat(file, reader)));
}

function checkOptions(options: SplitDatasetOptions): void {
  for (const [flag, value] of [
    ["--validation", options.validation],
    ["--test", options.test],
  ] as const) {
    if (!Number.isFinite(value) || value < 0 || value >= 1) {
      throw new TunekitError(`\`${flag}\` must be a fraction from 0 up to (not including) 1; got \`${value}\``, {
        kind: "usage",
        code: "invalid_ratio",
        field: flag,
        fix: `pass e.g. ${flag} 0.1 for 10 % of the examples, or 0 for no ${flag.slice(2)} split`,
      });
    }
  }
  if (options.validation + options.test >= 1) {
    throw new TunekitError(`\`--validation\` + \`--test\` is ${options.validation + options.test}, leaving nothing to train on`, {
      kind: "usage",
      code: "invalid_ratio",
      field: "--validation",
      fix: "keep --validation + --test below 1 (e.g. 0.1 and 0.1)",
    });
  }
  if (!Number.isSafeInteger(options.seed) || options.seed < 0) {
    throw new TunekitError(`\`--seed\` must be a whole number >= 0; got \`${options.seed}\``, {
      kind: "usage",
      code: "invalid_seed",
      field: "--seed",
      fix: "pass e.g. --seed 42",
    });
  }
}

/** Distinct groups and their sizes, in typed arrays (see the file comment). */
class GroupTable {
  readonly index = new HashIndex(0xfffffffe);
  readonly counts = new Uint32List();
  readonly highs = new Uint32List();
  readonly lows = new Uint32List();
  largest = 1;
  /** the group of a key, adding it when new */
  add(key: Hash64): number {
    const group = this.index.getOrSet(key, this.counts.length);
    if (group === -1) {
      this.counts.push(1);
      this.highs.push(key.high);
      this.lows.push(key.low);
      return this.counts.length - 1;
    }
    this.counts.increment(group);
    if (this.counts.get(group) > this.largest) this.largest = this.counts.get(group);
    return group;
  }
  get size(): number {
    return this.counts.length;
  }
}

/**
 * The seeded shuffle: groups ordered by their hash re-hashed with the seed, dealt to test, then
 * validation, up to round(N * ratio); a group that would overshoot a split goes to the next one
 * (finally train), so duplicates are never cut apart.
 */
function assignGroups(table: GroupTable, examples: number, options: SplitDatasetOptions): { assignment: Uint8Array; filled: number[]; targets: number[] } {
  const groups = table.size;
  const rankHigh = new Uint32Array(groups);
  const rankLow = new Uint32Array(groups);
  for (let group = 0; group < groups; group++) {
    const rank = hash64(`${options.seed}\u0000${table.highs.get(group)}\u0000${table.lows.get(group)}`);
    rankHigh[group] = rank.high;
    rankLow[group] = rank.low;
  }
  const order = new Uint32Array(groups);
  for (let group = 0; group < groups; group++) order[group] = group;
  order.sort(
    (a, b) =>
      (rankHigh[a] as number) - (rankHigh[b] as number) ||
      (rankLow[a] as number) - (rankLow[b] as number) ||
      table.highs.get(a) - table.highs.get(b) ||
      table.lows.get(a) - table.lows.get(b),
  );
  const targets = [0, Math.round(examples * options.validation), Math.round(examples * options.test)];
  const filled = [0, 0, 0];
  const assignment = new Uint8Array(groups);
  for (const group of order) {
    const size = table.counts.get(group);
    let split = TRAIN;
    if ((filled[TEST] as number) + size <= (targets[TEST] as number)) split = TEST;
    else if ((filled[VALIDATION] as number) + size <= (targets[VALIDATION] as number)) split = VALIDATION;
    assignment[group] = split;
    (filled[split] as number) += size;
  }
  filled[TRAIN] = examples - (filled[VALIDATION] as number) - (filled[TEST] as number);
  return { assignment, filled, targets };
}

const REPLACEMENT = "\uFFFD";

function notUtf8(file: string, line: number | undefined, row: number): TunekitError {
  const where = line !== undefined ? `line ${line}` : `record ${row}`;
  return new TunekitError(`\`${file}\` ${where} is not UTF-8: splitting it would write U+FFFD (\uFFFD) in place of its bytes; nothing was written`, {
    kind: "usage",
    code: "invalid_utf8",
    file,
    ...(line !== undefined && { line }),
    fix: "pass --encoding windows-1252 (a CSV saved by Excel on Windows) or --encoding latin1 to read it in its real encoding, or re-save the file as UTF-8",
  });
}

/** The non-blank lines of a JSONL file, or the records of a JSON array or Parquet file as JSON lines. */
async function* exampleLines(file: string, format: SplitInputFormat, options: ReaderOptions): AsyncGenerator<{ text: string; blank: boolean }> {
  if (format === "json" || format === "parquet" || format === "arrow") {
    const reader = await openRecords(file, format, options);
    for await (const record of reader.records) {
      if (record.problem !== undefined) {
        throw new TunekitError(`\`${file}\` record ${record.row}: ${record.problem.message}; nothing was written`, {
          kind: "data",
          code: record.problem.code,
          file,
          fix: record.problem.fix,
        });
      }
      const text = JSON.stringify(record.value);
      if (text.includes(REPLACEMENT)) throw notUtf8(file, record.line, record.row);
      yield { text, blank: false };
    }
    return;
  }
  let row = 0;
  for await (const { line, text, validUtf8 } of readLines(file)) {
    if (text.trim() === "") {
      yield { text, blank: true };
      continue;
    }
    row += 1;
    if (!validUtf8) throw notUtf8(file, line, row);
    yield { text: line === 1 ? text.replace(/^\uFEFF/, "") : text, blank: false };
  }
}

export async function splitDataset(options: SplitDatasetOptions): Promise<SplitReport> {
  checkOptions(options);
  const groupBy = options.groupBy ?? "example";
  try {
    await assertInputFile(options.file);
  } catch (error) {
    throw error instanceof TunekitError ? error : inputFileError(options.file, error);
  }
  const inputFormat = await splitInputFormat(options.file, options.reader);
  const format = splitOutputFormat(inputFormat);
  const paths = splitOutputPaths(options.file, options.outDir, format);
  const wanted: Record<SplitName, boolean> = { train: true, validation: options.validation > 0, test: options.test > 0 };
  for (const name of SPLIT_NAMES) {
    if (wanted[name] && resolve(paths[name]) === resolve(options.file)) {
      throw new TunekitError(`the ${name} split would overwrite the input \`${options.file}\``, {
        kind: "usage",
        code: "output_is_input",
        field: "--out-dir",
        fix: "rename the input or pass --out-dir",
      });
    }
  }
  if ((format === "csv" || format === "tsv") && groupBy === "prompt") {
    throw new TunekitError(`\`--group-by prompt\` needs chat examples; the rows of \`${options.file}\` (${format.toUpperCase()}) have columns, not a user side`, {
      kind: "usage",
      code: "invalid_group_by",
      field: "--group-by",
      fix: `convert first (\`tunekit data convert ${options.file} ${basename(options.file, extname(options.file))}.jsonl\`) and split the JSONL, or use --group-by example`,
    });
  }

  const table = new GroupTable();
  const counted =
    format === "csv" || format === "tsv"
      ? await countCsv(options.file, format, table, options.reader ?? {})
      : await countLines(options.file, inputFormat, groupBy, table, options.reader ?? {});
  const examples = counted.examples;
  const { assignment, filled, targets } = assignGroups(table, examples, options);

  if (options.outDir !== undefined) await mkdir(options.outDir, { recursive: true });
  const streams: (WriteStream | null)[] = SPLIT_NAMES.map((name) => (wanted[name] ? createWriteStream(`${paths[name]}.partial-${process.pid}`) : null));
  try {
    if (format === "csv" || format === "tsv") await writeCsv(options.file, counted as CsvCount, assignment, streams, options.reader ?? {});
    else {
      for await (const { text, blank } of exampleLines(options.file, inputFormat, options.reader ?? {})) {
        if (blank) continue;
        const group = table.index.get(splitGroupKey(text, groupBy).key);
        const stream = streams[assignment[group] as number] as WriteStream;
        if (!stream.write(`${text}\n`)) await once(stream, "drain");
      }
    }
    for (const stream of streams) {
      if (stream === null) continue;
      stream.end();
      await once(stream, "finish");
    }
    for (const name of SPLIT_NAMES) if (wanted[name]) await rename(`${paths[name]}.partial-${process.pid}`, paths[name]);
  } catch (error) {
    for (const stream of streams) stream?.destroy();
    for (const name of SPLIT_NAMES) await rm(`${paths[name]}.partial-${process.pid}`, { force: true });
    throw error;
  }

  const warnings: string[] = [];
  for (const [name, ratio, split] of [
    ["validation", options.validation, VALIDATION],
    ["test", options.test, TEST],
  ] as const) {
    if (ratio > 0 && filled[split] === 0) {
      warnings.push(
        `the ${name} split is empty: ${examples} examples × ${ratio} rounds to ${targets[split]}${(targets[split] as number) > 0 ? " and every group left was larger" : ""}`,
      );
    } else if (ratio > 0 && filled[split] !== targets[split]) {
      warnings.push(`the ${name} split holds ${filled[split]} examples, not ${targets[split]}: groups of duplicates are never cut apart`);
    }
  }
  if (examples > 0 && table.largest > Math.max(1, examples * 0.1)) {
    warnings.push(`one group holds ${table.largest} of the ${examples} examples (grouped by ${groupBy}); it stays whole in one split`);
  }
  if (counted.unparsable > 0) {
    warnings.push(
      `${counted.unparsable} line${counted.unparsable === 1 ? " is" : "s are"} not a JSON example of a known format; they were split by their text (run \`tunekit data validate\` on the file)`,
    );
  }
  return {
    input: options.file,
    input_format: inputFormat,
    format,
    seed: options.seed,
    group_by: groupBy,
    examples,
    groups: table.size,
    blank_lines: counted.blankLines,
    unparsable_lines: counted.unparsable,
    splits: {
      train: { file: paths.train, examples: filled[TRAIN] as number },
      validation: { file: wanted.validation ? paths.validation : null, examples: filled[VALIDATION] as number },
      test: { file: wanted.test ? paths.test : null, examples: filled[TEST] as number },
    },
    warnings,
  };
}

interface LineCount {
  examples: number;
  blankLines: number;
  unparsable: number;
}

/** pass 1 of JSONL (and JSON arrays, Parquet): hash every example, count examples per group */
async function countLines(file: string, format: SplitInputFormat, groupBy: SplitGrouping, table: GroupTable, reader: ReaderOptions): Promise<LineCount> {
  const count: LineCount = { examples: 0, blankLines: 0, unparsable: 0 };
  try {
    for await (const { text, blank } of exampleLines(file, format, reader)) {
      if (blank) {
        count.blankLines += 1;
        continue;
      }
      count.examples += 1;
      const { key, parsed } = splitGroupKey(text, groupBy);
      if (!parsed) count.unparsable += 1;
      table.add(key);
    }
  } catch (error) {
    if (["ENOENT", "EISDIR", "ENOTDIR", "EACCES"].includes((error as NodeJS.ErrnoException).code ?? "")) throw inputFileError(file, error);
    throw error;
  }
  return count;
}

interface CsvCount extends LineCount {
  /** byte offset where the header row (with the BOM before it) ends; 0 for an empty file */
  headerEnd: number;
  /** byte offset where each record ends, and its group */
  ends: Float64List;
  groups: Uint32List;
}

/** Growable list of byte offsets (files past 4 GiB need more than uint32). */
class Float64List {
  private values = new Float64Array(1024);
  length = 0;
  push(value: number): void {
    if (this.length === this.values.length) {
      const grown = new Float64Array(this.values.length * 2);
      grown.set(this.values);
      this.values = grown;
    }
    this.values[this.length++] = value;
  }
  get(index: number): number {
    return this.values[index] as number;
  }
}

function csvParser(format: "csv" | "tsv") {
  return parseCsv({
    delimiter: format === "tsv" ? "\t" : ",",
    bom: true,
    info: true,
    relax_column_count: true,
    relax_quotes: format === "tsv",
    skip_empty_lines: true,
  });
}

/** pass 1 of a table: parse records (quoted line breaks and all), note where each ends, group by its fields */
async function countCsv(file: string, format: "csv" | "tsv", table: GroupTable, reader: ReaderOptions): Promise<CsvCount> {
  const count: CsvCount = { examples: 0, blankLines: 0, unparsable: 0, headerEnd: 0, ends: new Float64List(), groups: new Uint32List() };
  let header = true;
  let lastLine = 0;
  try {
    const records = Readable.from(utf8Bytes(file, { encoding: reader.encoding })).pipe(csvParser(format)) as AsyncIterable<{
      record: string[];
      info: { bytes: number; lines: number; empty_lines: number };
    }>;
    for await (const { record, info } of records) {
      lastLine = info.lines;
      count.blankLines = info.empty_lines;
      if (header) {
        header = false;
        count.headerEnd = info.bytes;
        continue;
      }
      if (record.some((field) => field.includes(REPLACEMENT))) throw notUtf8(file, info.lines, count.examples + 1);
      count.examples += 1;
      count.ends.push(info.bytes);
      count.groups.push(table.add(hash64(`row\u0000${record.map((field) => normalizeText(field)).join("\u0000")}`)));
    }
  } catch (error) {
    if (error instanceof TunekitError) throw error;
    if (["ENOENT", "EISDIR", "ENOTDIR", "EACCES"].includes((error as NodeJS.ErrnoException).code ?? "")) throw inputFileError(file, error);
    const details = error as { message?: string; lines?: number };
    throw new TunekitError(`\`${file}\` is not valid ${format.toUpperCase()}: ${details.message ?? String(error)}; nothing was written`, {
      kind: "data",
      code: "invalid_csv",
      file,
      line: details.lines ?? lastLine + 1,
      fix: 'close every quoted field; fields holding the delimiter, quotes or line breaks must be quoted with `"` (and quotes inside doubled `""`)',
    });
  }
  return count;
}

/** pass 2 of a table: the header to every split, then each record's bytes to its split */
async function writeCsv(file: string, count: CsvCount, assignment: Uint8Array, streams: (WriteStream | null)[], reader: ReaderOptions): Promise<void> {
  const write = async (stream: WriteStream, bytes: Buffer): Promise<void> => {
    if (!stream.write(bytes)) await once(stream, "drain");
  };
  let lineEnd = Buffer.from("\n");
  let parts: Buffer[] = [];
  let offset = 0;
  // -1: the header; then record indexes; count.ends.length: the trailing blank lines (dropped)
  let record = -1;
  const endOf = (index: number): number => (index < 0 ? count.headerEnd : index < count.ends.length ? count.ends.get(index) : Number.POSITIVE_INFINITY);
  const emit = async (): Promise<void> => {
    let bytes = Buffer.concat(parts);
    parts = [];
    if (record < 0) {
      if (bytes.length >= 2 && bytes[bytes.length - 2] === 0x0d && bytes[bytes.length - 1] === 0x0a) lineEnd = Buffer.from("\r\n");
      else if (bytes.length > 0 && bytes[bytes.length - 1] === 0x0d) lineEnd = Buffer.from("\r");
      if (bytes.length > 0 && !endsWithBreak(bytes)) bytes = Buffer.concat([bytes, lineEnd]);
      for (const stream of streams) if (stream !== null) await write(stream, bytes);
      return;
    }
    let start = 0;
    while (start < bytes.length && (bytes[start] === 0x0a || bytes[start] === 0x0d)) start++; // blank lines before the record
    bytes = bytes.subarray(start);
    if (!endsWithBreak(bytes)) bytes = Buffer.concat([bytes, lineEnd]);
    await write(streams[assignment[count.groups.get(record)] as number] as WriteStream, bytes);
  };
  for await (const chunk of utf8Bytes(file, { encoding: reader.encoding })) {
    let position = 0;
    while (position < chunk.length) {
      const end = endOf(record);
      if (end === Number.POSITIVE_INFINITY) break;
      const take = Math.min(chunk.length - position, end - (offset + position));
      parts.push(chunk.subarray(position, position + take));
      position += take;
      if (offset + position === end) {
        await emit();
        record += 1;
      }
    }
    offset += chunk.length;
  }
}

function endsWithBreak(bytes: Buffer): boolean {
  const last = bytes[bytes.length - 1];
  return last === 0x0a || last === 0x0d;
}
