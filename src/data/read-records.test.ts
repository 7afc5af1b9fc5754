import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { parquetWriteFile } from "hyparquet-writer";
import { afterAll, describe, expect, it } from "vitest";
import { TunekitError } from "../core/errors.js";
import { openRecords, recordFormatFromPath, sniffJsonContainer, type SourceRecord } from "./read-records.js";

const scratch = mkdtempSync(join(tmpdir(), "tunekit-read-records-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function file(name: string, content: string): string {
  const path = join(scratch, name);
  writeFileSync(path, content);
  return path;
}

async function collect(records: AsyncIterable<SourceRecord>): Promise<SourceRecord[]> {
  const all: SourceRecord[] = [];
  for await (const record of records) all.push(record);
  return all;
}

describe("openRecords", () => {
  it("reads CSV with the header's columns and the start line of each record, multi-line fields and blank lines included", async () => {
    const path = file("a.csv", '\uFEFFq,a\r\none,1\r\n\r\n"two\nlines",2\r\nthree,3,extra\r\nfour,4\r\n');
    const reader = await openRecords(path, "csv");
    expect(reader.columns).toEqual(["q", "a"]);
    const records = await collect(reader.records);
    expect(records.map((record) => [record.row, record.line])).toEqual([
      [1, 2],
      [2, 4],
      [3, 6],
      [4, 7],
    ]);
    expect(records[1]?.value).toEqual({ q: "two\nlines", a: "2" });
    expect(records[2]?.problem?.code).toBe("wrong_field_count");
    expect(records[3]?.value).toEqual({ q: "four", a: "4" });
  });

  it("reads TSV with bare quotes inside fields", async () => {
    const reader = await openRecords(file("a.tsv", 'q\ta\nHow tall? 5" or so\tyes\n'), "tsv");
    expect((await collect(reader.records))[0]?.value).toEqual({ q: 'How tall? 5" or so', a: "yes" });
  });

  it("fails on an unclosed CSV quote with a data error naming the file", async () => {
    const reader = openRecords(file("bad.csv", 'q,a\n"open,1\n'), "csv");
    await expect(reader.then((opened) => collect(opened.records))).rejects.toThrow(/not valid CSV/);
  });

  it("streams JSONL: blank lines are skipped, bad lines become problems with their line", async () => {
    const reader = await openRecords(file("a.jsonl", '{"x":1}\n\n{"x":\n{"x":3}'), "jsonl");
    const records = await collect(reader.records);
    expect(records.map((record) => [record.row, record.line, record.value ?? record.problem?.code])).toEqual([
      [1, 1, { x: 1 }],
      [2, 3, "invalid_json"],
      [3, 4, { x: 3 }],
    ]);
  });

  it("reads a JSON array and refuses any other top-level value", async () => {
    const records = await collect((await openRecords(file("a.json", '[{"x":1},{"x":2}]'), "json")).records);
    expect(records).toEqual([
      { row: 1, value: { x: 1 } },
      { row: 2, value: { x: 2 } },
    ]);
    await expect(openRecords(file("object.json", '{"x":1}'), "json")).rejects.toThrow(/not an array/);
  });

  it("reads Parquet row group by row group, only the columns asked for, bigints as numbers", async () => {
    const path = join(scratch, "a.parquet");
    parquetWriteFile({
      filename: path,
      rowGroupSize: 2,
      columnData: [
        { name: "q", data: ["a", "b", "c", "d", "e"], type: "STRING" },
        { name: "n", data: [1n, 2n, 3n, 4n, 5n], type: "INT64" },
        { name: "unused", data: ["1", "2", "3", "4", "5"], type: "STRING" },
      ],
    });
    const reader = await openRecords(path, "parquet", { columns: ["q", "n", "absent"] });
    expect(reader.columns).toEqual(["q", "n", "unused"]);
    const records = await collect(reader.records);
    expect(records.map((record) => record.row)).toEqual([1, 2, 3, 4, 5]);
    expect(records[4]?.value).toEqual({ q: "e", n: 5 });
  });

  it("reads gzip-compressed Parquet through node:zlib and names the codec it cannot read", async () => {
    const path = join(scratch, "gzip.parquet");
    parquetWriteFile({
      filename: path,
      codec: "GZIP",
      compressors: { GZIP: (input: Uint8Array) => new Uint8Array(gzipSync(input)) },
      columnData: [{ name: "q", data: ["compressed text ".repeat(20), "b"], type: "STRING" }],
    });
    const records = await collect((await openRecords(path, "parquet")).records);
    expect(records.map((record) => record.value)).toEqual([{ q: "compressed text ".repeat(20) }, { q: "b" }]);

    const lz4 = join(scratch, "lz4.parquet");
    parquetWriteFile({
      filename: lz4,
      codec: "LZ4_RAW",
      compressors: { LZ4_RAW: (input: Uint8Array) => input },
      columnData: [{ name: "q", data: ["x"], type: "STRING" }],
    });
    const reader = await openRecords(lz4, "parquet");
    await expect(collect(reader.records)).rejects.toMatchObject({ code: "unsupported_compression", fix: expect.stringContaining("snappy") });
  });

  it("reports a missing file as a usage error", async () => {
    const error = await openRecords(join(scratch, "nope.csv"), "csv").catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(TunekitError);
    expect((error as TunekitError).exitCode).toBe(2);
  });
});

describe("format detection", () => {
  it("maps extensions to record formats", () => {
    expect(["x.csv", "x.TSV", "x.jsonl", "x.ndjson", "x.json", "x.parquet", "x.txt"].map(recordFormatFromPath)).toEqual(["csv", "tsv", "jsonl", "jsonl", "json", "parquet", null]);
  });

  it("tells a JSON array from JSON Lines by the first non-blank character", async () => {
    expect(await sniffJsonContainer(file("array.json", '\n  [{"a":1}]'))).toBe("json");
    expect(await sniffJsonContainer(file("lines.json", '{"a":1}\n{"a":2}\n'))).toBe("jsonl");
  });
});
