/**
 * One reader for every command (issue 13): `tunekit data validate` run as a user runs it on the
 * files people have — CSV, TSV, JSON arrays and `{"data": [...]}` wrappers, Parquet, gzip and zstd,
 * UTF-16, Windows-1252, Hugging Face save_to_disk folders and folders of split files — each read
 * through the one reader, or refused in one line that names the cause, the flag and the fix, with
 * the exit code of the contract (0 ok, 1 problems found, 2 usage or input error).
 */
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { gzipSync } from "node:zlib";
import { Field, List, Struct, Table, Utf8, tableToIPC, vectorFromArray } from "apache-arrow";
import { parquetWriteFile } from "hyparquet-writer";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openRecords } from "../src/data/read-records.js";
import { sniffDatasetFile } from "../src/data/sniff-dataset-file.js";

const CLI = resolve("dist/cli/main.js");
let scratch: string;

function tunekit(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { cwd: scratch, env: { ...process.env, TUNEKIT_SERVER: "", TUNEKIT_API_KEY: "" }, timeout: 60_000, maxBuffer: 32 << 20 },
      (error, stdout, stderr) => {
        done({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout, stderr });
      },
    );
  });
}

const chat = (index: number, answer = `Answer ${index}: it ships in ${index + 2} days.`) => ({
  messages: [
    { role: "system", content: "You are the support desk of a bakery." },
    { role: "user", content: `Question ${index}: when does order ${index * 7919} ship?` },
    { role: "assistant", content: answer },
  ],
});
const chatLines = (count: number) => `${Array.from({ length: count }, (_, index) => JSON.stringify(chat(index))).join("\n")}\n`;
const supportRows = (count: number) =>
  Array.from({ length: count }, (_, index) => [`Question ${index}: when does order ${index * 7919} ship?`, `Answer ${index}: in ${index + 2} days.`]);

function file(name: string, content: string | Buffer): string {
  const path = join(scratch, name);
  mkdirSync(join(path, ".."), { recursive: true });
  writeFileSync(path, content);
  return path;
}

/** A zstd frame of raw (stored) blocks: valid Zstandard that Node 20 cannot write itself. */
function zstdFrame(content: Buffer): Buffer {
  const parts: Buffer[] = [Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x50])]; // magic, no checksum/size, 1 MiB window
  const blockSize = 64 << 10;
  for (let start = 0; start < content.length || start === 0; start += blockSize) {
    const block = content.subarray(start, start + blockSize);
    const last = start + blockSize >= content.length ? 1 : 0;
    const header = (block.length << 3) | last; // raw block type 0
    parts.push(Buffer.from([header & 0xff, (header >> 8) & 0xff, (header >> 16) & 0xff]), block);
    if (content.length === 0) break;
  }
  return Buffer.concat(parts);
}

const messageType = new List(new Field("item", new Struct([new Field("role", new Utf8(), true), new Field("content", new Utf8(), true)]), true));

/** What `DatasetDict.save_to_disk` writes: dataset_dict.json, and per split an Arrow stream with state.json and dataset_info.json. */
function saveToDisk(folder: string, splits: Record<string, ReturnType<typeof chat>[]>): string {
  const root = join(scratch, folder);
  for (const [split, rows] of Object.entries(splits)) {
    mkdirSync(join(root, split), { recursive: true });
    const table = new Table({
      messages: vectorFromArray(
        rows.map((row) => row.messages),
        messageType,
      ),
    });
    writeFileSync(join(root, split, "data-00000-of-00001.arrow"), tableToIPC(table, "stream"));
    writeFileSync(
      join(root, split, "state.json"),
      JSON.stringify({ _data_files: [{ filename: "data-00000-of-00001.arrow" }], _fingerprint: "0", _format_type: null, _split: split }),
    );
    writeFileSync(join(root, split, "dataset_info.json"), JSON.stringify({ citation: "", description: "", features: {} }));
  }
  writeFileSync(join(root, "dataset_dict.json"), JSON.stringify({ splits: Object.keys(splits) }));
  return root;
}

beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), "tunekit-data-formats-"));
});

afterAll(() => {
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

describe("every format through one reader", () => {
  it("a CSV without --map is one line, exit 2: this is CSV, map its columns with --map or convert it", async () => {
    const path = file(
      "support.csv",
      `question,answer\r\n${supportRows(34)
        .map((row) => row.map((cell) => `"${cell}"`).join(","))
        .join("\r\n")}\r\n`,
    );
    const result = await tunekit(["data", "validate", path]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("this is CSV with the columns `question`, `answer`");
    expect(result.stderr).toContain("map its columns with `--map` (e.g. `--map question=user --map answer=assistant`) or convert it with `tunekit data convert`");
    expect(result.stderr).not.toContain("invalid_json");
    expect(result.stderr.trim().split("\n")).toHaveLength(2); // the error and its fix
  });

  it("a mapped CSV is validated with the CSV's own line numbers (a quoted multi-line field moves them)", async () => {
    const rows = supportRows(12).map((row) => row.map((cell) => `"${cell}"`).join(","));
    rows[2] = '"Question 2: a question\nthat spans\nthree lines?","Answer 2."';
    rows[5] = '"Question 5: no answer?",""'; // header line 1, rows 1-2 on lines 2-3, row 3 on 4-6, rows 4-5 on 7-8: row 6 is line 9
    const path = file("mapped.csv", `question,answer\n${rows.join("\n")}\n`);
    const result = await tunekit(["data", "validate", path, "--map", "question=user", "--map", "answer=assistant", "--json"]);
    expect(result.code).toBe(1);
    const report = JSON.parse(result.stdout);
    expect(report.errors).toEqual([expect.objectContaining({ line: 9, code: "unmapped_record", message: expect.stringContaining("`answer` is empty") })]);
    expect(report.stats).toMatchObject({ examples: 12, valid_examples: 11 });
    expect(report.source_format).toBe("csv");
  });

  it("a JSON array of chat examples validates (not 386 invalid_json errors), a TSV and Parquet with --map too", async () => {
    const array = file(
      "array.json",
      JSON.stringify(
        Array.from({ length: 12 }, (_, index) => chat(index)),
        null,
        2,
      ),
    );
    const json = await tunekit(["data", "validate", array]);
    expect(json.code).toBe(0);
    expect(json.stdout).toContain("chat format (detected from record 1; read as json)");
    expect(json.stdout).toContain("OK: no errors");

    const tsv = file(
      "support.tsv",
      `q\ta\n${supportRows(12)
        .map((row) => row.join("\t"))
        .join("\n")}\n`,
    );
    const tsvResult = await tunekit(["data", "validate", tsv, "--map", "q=user", "--map", "a=assistant"]);
    expect(tsvResult.code).toBe(0);
    expect(tsvResult.stdout).toContain("12 examples (12 valid)");

    const parquet = join(scratch, "support.parquet");
    const rows = supportRows(12);
    parquetWriteFile({
      filename: parquet,
      columnData: [
        { name: "question", data: rows.map((row) => row[0] as string), type: "STRING" },
        { name: "answer", data: rows.map((row) => row[1] as string), type: "STRING" },
      ],
    });
    const unmapped = await tunekit(["data", "validate", parquet]);
    expect(unmapped.code).toBe(2);
    expect(unmapped.stderr).toContain("this is Parquet with the columns `question`, `answer`");
    const mapped = await tunekit(["data", "validate", parquet, "--map", "question=user", "--map", "answer=assistant"]);
    expect(mapped.code).toBe(0);
    expect(mapped.stdout).toContain("12 examples (12 valid)");
  });
});

describe("compressed input, detected by magic bytes and streamed", () => {
  it("reads .jsonl.gz, .jsonl.zst and .csv.gz, whatever the name says", async () => {
    const lines = Buffer.from(chatLines(12).replace(/\n$/, '\n{"messages": [\n'));
    for (const [name, content] of [
      ["chat.jsonl.gz", gzipSync(lines)],
      ["chat.jsonl.zst", zstdFrame(lines)],
      ["misnamed.jsonl", gzipSync(lines)],
    ] as const) {
      const result = await tunekit(["data", "validate", file(name, content), "--json"]);
      expect(result.code, name).toBe(1);
      const report = JSON.parse(result.stdout);
      // the broken last line is found at its exact number after decompression
      expect(report.errors, name).toEqual([expect.objectContaining({ line: 13, code: "invalid_json" })]);
      expect(report.stats.valid_examples, name).toBe(12);
    }
    const csv = gzipSync(
      Buffer.from(
        `question,answer\n${supportRows(12)
          .map((row) => row.join(",").replace(/:/g, ""))
          .join("\n")}\n`,
      ),
    );
    const result = await tunekit(["data", "validate", file("support.csv.gz", csv), "--map", "question=user", "--map", "answer=assistant"]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("read as csv, gzip, mapped with --map");
  });

  it("a zstd file longer than one block streams through (several blocks, lines across them)", async () => {
    const big = Buffer.from(chatLines(3000));
    const result = await tunekit(["data", "validate", file("big.jsonl.zst", zstdFrame(big)), "--json"]);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout).stats).toMatchObject({ lines: 3000, valid_examples: 3000 });
  });

  it("a truncated gzip file is named as such, exit 1", async () => {
    const whole = gzipSync(Buffer.from(chatLines(200)));
    const result = await tunekit(["data", "validate", file("cut.jsonl.gz", whole.subarray(0, whole.length - 40))]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("is not a complete gzip file");
    expect(result.stderr).toContain("gzip -t");
  });
});

describe("text encodings: read, or refused with the line and the flag, never U+FFFD", () => {
  it("UTF-16 with a byte order mark (LE and BE) reads as JSONL and as CSV", async () => {
    const le = file("utf16le.jsonl", Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(chatLines(12), "utf16le")]));
    const leResult = await tunekit(["data", "validate", le]);
    expect(leResult.code).toBe(0);
    expect(leResult.stdout).toContain("12 examples (12 valid)");
    const csvText = `question,answer\n${supportRows(11)
      .map((row) => row.join(",").replace(/:/g, ""))
      .join("\n")}\nCafé au lait?,Oui\n`;
    const be = file("utf16be.csv", Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from(csvText, "utf16le").swap16()]));
    const beResult = await tunekit(["data", "validate", be, "--map", "question=user", "--map", "answer=assistant"]);
    expect(beResult.code).toBe(0);
    expect(beResult.stdout).toContain("read as csv, utf-16be");
    const records = [];
    for await (const record of (await openRecords(be)).records) records.push(record.value);
    expect(records[11]).toEqual({ question: "Café au lait?", answer: "Oui" });
  });

  it("uploads keep naming UTF-16 and compressed files (the stored file is what trains); the CLI looks through them", async () => {
    const utf16 = file("upload16.jsonl", Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(chatLines(2), "utf16le")]));
    expect(await sniffDatasetFile(utf16, "upload16.jsonl")).toMatchObject({ kind: "binary", reason: expect.stringContaining("re-save it as UTF-8") });
    expect(await sniffDatasetFile(utf16, "upload16.jsonl", { decode: true })).toEqual({ kind: "jsonl" });
    const zst = file("upload.jsonl.zst", zstdFrame(Buffer.from(chatLines(2))));
    expect(await sniffDatasetFile(zst, "upload.jsonl.zst")).toMatchObject({ kind: "binary", reason: expect.stringContaining("zstd -d") });
  });

  it("a Windows-1252 CSV is refused on its first bad line with the --encoding fix, exit 2; with --encoding it reads Café", async () => {
    const rows = supportRows(11).map((row) => row.join(",").replace(/:/g, ""));
    const bytes = Buffer.concat([
      Buffer.from(`question,answer\n${rows.slice(0, 2).join("\n")}\n`),
      Buffer.from([0x43, 0x61, 0x66, 0xe9, 0x3f, 0x2c, 0x4f, 0x75, 0x69, 0x0a]),
      Buffer.from(`${rows.slice(2).join("\n")}\n`),
    ]);
    const path = file("excel.csv", bytes);
    const refused = await tunekit(["data", "validate", path, "--map", "question=user", "--map", "answer=assistant"]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('excel.csv` is not UTF-8 (byte 0xE9, column 4; in Windows-1252 it reads "Café?,Oui")');
    expect(refused.stderr).toMatch(/^error: line 4 of `/);
    expect(refused.stderr).toContain("--encoding windows-1252");
    expect(refused.stderr + refused.stdout).not.toContain("\uFFFD");
    const read = await tunekit(["data", "validate", path, "--map", "question=user", "--map", "answer=assistant", "--encoding", "windows-1252"]);
    expect(read.code).toBe(0);
    expect(read.stdout).toContain("12 examples (12 valid)");
    const records = [];
    for await (const record of (await openRecords(path, "auto", { encoding: "windows-1252" })).records) records.push(record.value);
    expect(records[2]).toEqual({ question: "Café?", answer: "Oui" });
    const unknown = await tunekit(["data", "validate", path, "--encoding", "ebcdic"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("`--encoding ebcdic` is not an encoding the reader knows");
  });

  it("a Latin-1 JSONL line is an invalid_utf8 problem whose message names --encoding; with --encoding latin1 it is valid", async () => {
    const lines = chatLines(12).split("\n");
    lines[3] = JSON.stringify(chat(3, "Crème brûlée"));
    const path = file("latin1.jsonl", Buffer.from(lines.join("\n"), "latin1"));
    const result = await tunekit(["data", "validate", path, "--json"]);
    expect(result.code).toBe(1);
    const report = JSON.parse(result.stdout);
    expect(report.errors).toEqual([expect.objectContaining({ line: 4, code: "invalid_utf8", message: expect.stringContaining("--encoding windows-1252") })]);
    const fixed = await tunekit(["data", "validate", path, "--encoding", "latin1"]);
    expect(fixed.code).toBe(0);
  });
});

describe('JSON wrapped as {"data": [...]}', () => {
  it("names the key and --json-key in one line, exit 2; --json-key data reads it", async () => {
    const path = file("wrapped.json", JSON.stringify({ version: 2, data: Array.from({ length: 12 }, (_, index) => chat(index)) }, null, 2));
    const refused = await tunekit(["data", "validate", path]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain("is a JSON object whose 12 records are under `data`: pass `--json-key data` to read them");
    const read = await tunekit(["data", "validate", path, "--json-key", "data"]);
    expect(read.code).toBe(0);
    expect(read.stdout).toContain("12 examples (12 valid)");
    const wrong = await tunekit(["data", "validate", path, "--json-key", "rows"]);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain("has no key `rows`; its keys are `version`, `data`");
  });
});

describe("dataset folders: Hugging Face save_to_disk and split files, --split picks one", () => {
  it("reads a DatasetDict's train split by default, --split test on request, and lists the splits for an unknown one", async () => {
    const root = saveToDisk("dict", {
      train: Array.from({ length: 12 }, (_, index) => chat(index)),
      test: Array.from({ length: 10 }, (_, index) => chat(100 + index)),
    });
    const train = await tunekit(["data", "validate", root]);
    expect(train.code).toBe(0);
    expect(train.stdout).toContain("read as arrow split `train` of dataset_dict");
    expect(train.stdout).toContain("12 examples (12 valid)");
    const test = await tunekit(["data", "validate", root, "--split", "test"]);
    expect(test.code).toBe(0);
    expect(test.stdout).toContain("10 examples (10 valid)");
    const unknown = await tunekit(["data", "validate", root, "--split", "validation"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("has no split `validation`; its splits are `train`, `test`");
  });

  it("a folder of split files (validation.jsonl, data/train-00000-of-00001.parquet): --split picks one, the message lists them", async () => {
    const root = join(scratch, "splits");
    file("splits/validation.jsonl", chatLines(10));
    file("splits/test.jsonl", chatLines(10));
    const noTrain = await tunekit(["data", "validate", root]);
    expect(noTrain.code).toBe(2);
    expect(noTrain.stderr).toContain("holds the splits `test`, `validation` and none is `train`: name the one to read with `--split`");
    const validation = await tunekit(["data", "validate", root, "--split", "validation"]);
    expect(validation.code).toBe(0);

    const hub = join(scratch, "hub");
    mkdirSync(join(hub, "data"), { recursive: true });
    const rows = supportRows(12);
    parquetWriteFile({
      filename: join(hub, "data", "train-00000-of-00001.parquet"),
      columnData: [
        { name: "prompt", data: rows.map((row) => row[0] as string), type: "STRING" },
        { name: "completion", data: rows.map((row) => ` ${row[1]}`), type: "STRING" },
      ],
    });
    const hubResult = await tunekit(["data", "validate", hub]);
    expect(hubResult.code).toBe(0);
    expect(hubResult.stdout).toContain("prompt-completion format");
    expect(hubResult.stdout).toContain("read as parquet split `train` of split_files");
  });
});

describe("one warning per problem kind, not per example", () => {
  it("26 examples without a system message are one warning with its count and first lines; errors keep their lines", async () => {
    const lines = Array.from({ length: 26 }, (_, index) => JSON.stringify({ messages: chat(index).messages.slice(1) }));
    lines.push(JSON.stringify({ messages: [{ role: "user", content: "no answer" }] }));
    const path = file("no-system.jsonl", `${lines.join("\n")}\n`);
    const result = await tunekit(["data", "validate", path]);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain("missing_system_message (27x) example without a system message: lines 1, 2, 3, 4, 5 and 22 more (`--json` lists every one)");
    expect(result.stdout.split("\n").filter((line) => line.includes("no system message"))).toHaveLength(0);
    expect(result.stdout.match(/missing_system_message/g)).toHaveLength(1);
    expect(result.stdout).toContain("example_missing_assistant_message (1x)");
    expect(result.stdout).toContain("    line 27: ");
    const json = JSON.parse((await tunekit(["data", "validate", path, "--json"])).stdout);
    expect(json.warnings.filter((problem: { code: string }) => problem.code === "missing_system_message")).toHaveLength(27);
  });
});

describe("the format is checked against the hosted model's provider", () => {
  it("gpt-4o-mini takes chat (and preference pairs), not prompt-completion or text: exit 1 with the convert fix", async () => {
    const promptCompletion = file("pc.jsonl", `${Array.from({ length: 12 }, (_, index) => JSON.stringify({ prompt: `Q${index}?`, completion: ` A${index}.` })).join("\n")}\n`);
    const refused = await tunekit(["data", "validate", promptCompletion, "--model", "gpt-4o-mini-2024-07-18"]);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toContain("format_not_supported (1x)");
    expect(refused.stdout).toContain("`gpt-4o-mini-2024-07-18` is fine-tuned by OpenAI (and Azure OpenAI) on chat examples only, and this file is prompt-completion");
    expect(refused.stdout).toContain("`tunekit data convert");
    const text = file("text.jsonl", `${Array.from({ length: 12 }, (_, index) => JSON.stringify({ text: `Some text number ${index}.` })).join("\n")}\n`);
    const textResult = await tunekit(["data", "validate", text, "--model", "gpt-4o-mini", "--json"]);
    expect(textResult.code).toBe(1);
    expect(JSON.parse(textResult.stdout).errors).toEqual([expect.objectContaining({ line: null, code: "format_not_supported" })]);
    const chatFile = file("chat.jsonl", chatLines(12));
    expect((await tunekit(["data", "validate", chatFile, "--model", "gpt-4o-mini-2024-07-18"])).code).toBe(0);
    // no hosted model: a local model trains prompt-completion as it is
    expect((await tunekit(["data", "validate", promptCompletion])).code).toBe(0);

    const pair = (index: number) => ({
      input: { messages: [{ role: "user", content: `Question ${index}?` }] },
      preferred_output: [{ role: "assistant", content: `A kind answer ${index}.` }],
      non_preferred_output: [{ role: "assistant", content: `A rude answer ${index}.` }],
    });
    const pairs = file("pairs.jsonl", `${Array.from({ length: 12 }, (_, index) => JSON.stringify(pair(index))).join("\n")}\n`);
    expect((await tunekit(["data", "validate", pairs, "--model", "gpt-4o-mini-2024-07-18"])).code).toBe(0);
    const noDpo = await tunekit(["data", "validate", pairs, "--model", "gpt-3.5-turbo-0125"]);
    expect(noDpo.code).toBe(1);
    expect(noDpo.stdout).toContain("with supervised chat examples only, not preference pairs");
  });
});

describe("stats and estimate read through the same reader", () => {
  it("data stats of a mapped .csv.gz, estimate of a save_to_disk split, and the same one-line refusal without --map", async () => {
    const csv = file(
      "stats.csv.gz",
      gzipSync(
        Buffer.from(
          `question,answer\n${supportRows(12)
            .map((row) => row.join(",").replace(/:/g, ""))
            .join("\n")}\n`,
        ),
      ),
    );
    const refused = await tunekit(["data", "stats", csv, "-m", "gpt-4o-mini-2024-07-18"]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain("this is CSV with the columns `question`, `answer`");
    const stats = await tunekit(["data", "stats", csv, "-m", "gpt-4o-mini-2024-07-18", "--map", "question=user", "--map", "answer=assistant", "--json"]);
    expect(stats.code).toBe(0);
    expect(JSON.parse(stats.stdout).examples).toBe(12);

    const root = saveToDisk("estimate-dict", { train: Array.from({ length: 30 }, (_, index) => chat(index)), test: Array.from({ length: 5 }, (_, index) => chat(index)) });
    const estimate = await tunekit(["estimate", root, "--split", "test", "-m", "gpt-4o-mini-2024-07-18", "--json"]);
    expect(estimate.code).toBe(0);
    expect(estimate.stdout).toMatch(/"examples": 5\b/);
  });
});
