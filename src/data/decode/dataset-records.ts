import { TunekitError } from "../../core/errors.js";
import { detectFormat } from "../../spec/dataset.js";
import { mappedColumns, parseColumnMapping, type ColumnMapping } from "../convert/column-mapping.js";
import { convertMappedRecord } from "../convert/convert-record.js";
import { openRecords, type OpenRecordsOptions, type ReadableFormat, type RecordReader, type SourceRecord } from "../read-records.js";

/**
 * Records of a dataset as examples, for the commands that read examples (validate, stats,
 * estimate): any format openRecords reads, with `data convert`'s `--map column=field` mapping
 * applied. A table whose rows are no dataset format and that has no `--map` is refused in one
 * line (exit 2) rather than once per row.
 */
export interface DatasetRecordsOptions extends Omit<OpenRecordsOptions, "columns"> {
  /** `column=field` entries, as `tunekit data convert --map` takes them */
  map?: readonly string[];
}

export interface DatasetRecords extends RecordReader {
  mapping: ColumnMapping | null;
}

const FORMAT_NAMES: Record<ReadableFormat, string> = {
  csv: "CSV",
  tsv: "TSV",
  json: "a JSON array",
  jsonl: "JSON Lines",
  parquet: "Parquet",
  arrow: "Arrow",
};

/** records looked at for a known dataset format before a table without --map is refused */
const FIRST_RECORDS = 10;

function mappingExample(columns: string[]): string {
  const [first, second] = columns;
  return first !== undefined && second !== undefined ? ` (e.g. \`--map ${first}=user --map ${second}=assistant\`)` : "";
}

export async function openDatasetRecords(path: string, options: DatasetRecordsOptions = {}): Promise<DatasetRecords> {
  const { map, ...readerOptions } = options;
  const mapping = parseColumnMapping(map ?? []);
  const reader = await openRecords(path, "auto", { ...readerOptions, ...(mapping && { columns: mappedColumns(mapping) }) });
  if (mapping !== null) {
    if (reader.columns !== null) {
      const missing = mappedColumns(mapping).filter((column) => !(reader.columns as string[]).includes(column));
      if (missing.length > 0) {
        throw new TunekitError(
          `\`--map\` names the column${missing.length === 1 ? "" : "s"} ${missing.map((name) => `\`${name}\``).join(", ")}, which \`${path}\` does not have; its columns are ${reader.columns.map((name) => `\`${name}\``).join(", ")}`,
          {
            kind: "usage",
            code: "unknown_column",
            field: "--map",
            file: path,
            fix: `map columns the file has${mappingExample(reader.columns)}`,
          },
        );
      }
    }
    return { ...reader, mapping, records: mapped(reader.records, mapping) };
  }
  if (reader.format === "jsonl") return { ...reader, mapping };
  // a table or JSON array: its first records show whether it holds examples or needs --map
  const iterator = reader.records[Symbol.asyncIterator]();
  const head: SourceRecord[] = [];
  let done = false;
  let known = false;
  let keys: string[] | null = reader.columns;
  while (head.length < FIRST_RECORDS) {
    const next = await iterator.next();
    if (next.done) {
      done = true;
      break;
    }
    head.push(next.value);
    if (next.value.problem) continue;
    const value = next.value.value;
    if (detectFormat(value) !== null) {
      known = true;
      break;
    }
    if (keys === null && value !== null && typeof value === "object" && !Array.isArray(value)) keys = Object.keys(value);
  }
  if (!known && head.some((record) => !record.problem)) {
    const name = FORMAT_NAMES[reader.format];
    const columns = keys ?? [];
    throw new TunekitError(
      `this is ${name}${columns.length > 0 ? ` with the columns ${columns.map((column) => `\`${column}\``).join(", ")}` : ""}, not examples of a dataset format: map its columns with \`--map\`${mappingExample(columns)} or convert it with \`tunekit data convert\``,
      {
        kind: "usage",
        code: "needs_mapping",
        file: path,
        field: "--map",
        fix: `pass \`--map <column>=user --map <column>=assistant\` (and \`<column>=system\`), or write chat JSONL once with \`tunekit data convert ${path} OUT.jsonl --map ...\``,
      },
    );
  }
  async function* replay(): AsyncGenerator<SourceRecord> {
    yield* head;
    if (done) return;
    for (let next = await iterator.next(); !next.done; next = await iterator.next()) yield next.value;
  }
  return { ...reader, mapping, records: replay() };
}

async function* mapped(records: AsyncIterable<SourceRecord>, mapping: ColumnMapping): AsyncGenerator<SourceRecord> {
  for await (const record of records) {
    if (record.problem) {
      yield record;
      continue;
    }
    const conversion = convertMappedRecord(record.value, mapping);
    if (conversion.example) {
      yield { ...record, value: conversion.example };
      continue;
    }
    const [problem, ...rest] = conversion.problems;
    const { value: _value, ...where } = record;
    yield {
      ...where,
      problem: {
        code: problem?.code ?? "unmapped_record",
        message: [problem, ...rest].map((entry) => entry?.message).join("; "),
        fix: problem?.fix ?? "check the mapped columns of this row",
      },
    };
  }
}
