/**
 * `tunekit data convert` and `data split` detect, don't corrupt (issue 13): Alpaca, ShareGPT and
 * TRL/LLaMA-Factory preference rows are detected without --from; a file in no known layout is
 * refused in one line with the --map to write and no output; preference JSONL passes
 * `data validate`; U+FFFD is never written; a CSV splits into CSVs with the header and whole
 * quoted records; outputs are not replaced without --force.
 */
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { gzipSync } from "node:zlib";
import { parse as parseCsv } from "csv-parse/sync";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const CLI = resolve("dist/cli/main.js");
let scratch: string;

function tunekit(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(process.execPath, [CLI, ...args], { cwd: scratch, env: { ...process.env, TUNEKIT_SERVER: "", TUNEKIT_API_KEY: "" }, timeout: 60_000 }, (error, stdout, stderr) => {
      done({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

const at = (name: string): string => join(scratch, name);
const jsonLines = (name: string): unknown[] =>
  readFileSync(at(name), "utf8")
    .trimEnd()
    .split("\n")
    .map((line) => JSON.parse(line));
const jsonl = (rows: unknown[]): string => `${rows.map((row) => JSON.stringify(row)).join("\n")}\n`;

beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), "tunekit-convert-detect-"));
});
afterAll(() => {
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

describe("convert detects Alpaca and ShareGPT without --from", () => {
  it("an Alpaca JSON array converts to chat JSONL and says on stderr that it was detected", async () => {
    writeFileSync(
      at("alpaca.json"),
      JSON.stringify([
        { instruction: "Translate to French.", input: "The cat sleeps.", output: "Le chat dort." },
        { instruction: "Give a synonym for happy.", input: "", output: "Joyful." },
      ]),
    );
    const result = await tunekit(["data", "convert", "alpaca.json", "alpaca.chat.jsonl"]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain("detected Alpaca records");
    expect(result.stdout).toContain("wrote 2 examples to alpaca.chat.jsonl (from alpaca in json)");
    expect(jsonLines("alpaca.chat.jsonl")).toEqual([
      {
        messages: [
          { role: "user", content: "Translate to French.\n\nThe cat sleeps." },
          { role: "assistant", content: "Le chat dort." },
        ],
      },
      {
        messages: [
          { role: "user", content: "Give a synonym for happy." },
          { role: "assistant", content: "Joyful." },
        ],
      },
    ]);
  });

  it("ShareGPT JSONL (human/gpt/system) converts, with --json naming the detected layout", async () => {
    writeFileSync(
      at("sharegpt.jsonl"),
      jsonl([
        {
          conversations: [
            { from: "system", value: "Be kind." },
            { from: "human", value: "hi" },
            { from: "gpt", value: "hello" },
          ],
        },
        {
          conversations: [
            { from: "human", value: "2+2?" },
            { from: "gpt", value: "4" },
          ],
        },
      ]),
    );
    const result = await tunekit(["data", "convert", "sharegpt.jsonl", "sharegpt.chat.jsonl", "--json"]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain("detected ShareGPT records");
    expect(JSON.parse(result.stdout)).toMatchObject({ from: "sharegpt", detected: "sharegpt", to: "chat", written: 2, skipped: 0, output_written: true });
    expect(jsonLines("sharegpt.chat.jsonl")[0]).toEqual({
      messages: [
        { role: "system", content: "Be kind." },
        { role: "user", content: "hi" },
        { role: "assistant", content: "hello" },
      ],
    });
  });

  it("columns in no known layout: one error naming them and the --map to write, exit 2, no output file", async () => {
    writeFileSync(at("support.jsonl"), jsonl(Array.from({ length: 30 }, (_, index) => ({ question: `q${index}`, answer: `a${index}`, category: "billing" }))));
    const result = await tunekit(["data", "convert", "support.jsonl", "support.chat.jsonl"]);
    expect(result.code).toBe(2);
    expect(result.stderr.match(/error:/g)).toHaveLength(1);
    expect(result.stderr).toContain("columns: `question`, `answer`, `category`");
    expect(result.stderr).toContain("--map question=user --map answer=assistant");
    expect(result.stderr).not.toMatch(/line \d+:/);
    expect(existsSync(at("support.chat.jsonl"))).toBe(false);
    // the --map it names works
    const mapped = await tunekit(["data", "convert", "support.jsonl", "support.chat.jsonl", "--map", "question=user", "--map", "answer=assistant"]);
    expect(mapped.code, mapped.stderr).toBe(0);
    expect(jsonLines("support.chat.jsonl")).toHaveLength(30);
  });

  it("a CSV with other columns is refused the same way, before any row", async () => {
    writeFileSync(at("tickets.csv"), "ticket,reply\nmy card was charged twice,We refunded it.\n");
    const result = await tunekit(["data", "convert", "tickets.csv", "tickets.jsonl"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("columns: `ticket`, `reply`");
    expect(result.stderr).toContain("--map ticket=user --map reply=assistant");
    expect(existsSync(at("tickets.jsonl"))).toBe(false);
  });

  it("rows of which none convert leave no output file (exit 1)", async () => {
    writeFileSync(at("broken.jsonl"), "{not json\n{also not\n");
    const result = await tunekit(["data", "convert", "broken.jsonl", "broken.chat.jsonl"]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("no file was written to broken.chat.jsonl");
    expect(existsSync(at("broken.chat.jsonl"))).toBe(false);
  });
});

describe("preference pairs convert to Tunekit's preference JSONL", () => {
  const pairs = [
    // TRL standard
    { prompt: "What is 2+2?", chosen: "4", rejected: "5" },
    // TRL conversational
    { prompt: [{ role: "user", content: "Capital of France?" }], chosen: [{ role: "assistant", content: "Paris." }], rejected: [{ role: "assistant", content: "Lyon." }] },
    // TRL implicit prompt
    {
      chosen: [
        { role: "user", content: "Hi" },
        { role: "assistant", content: "Hello! How can I help?" },
      ],
      rejected: [
        { role: "user", content: "Hi" },
        { role: "assistant", content: "What." },
      ],
    },
    // LLaMA-Factory, ShareGPT style
    { conversations: [{ from: "human", value: "Name a colour." }], chosen: { from: "gpt", value: "Blue." }, rejected: { from: "gpt", value: "Seven." } },
    // LLaMA-Factory, Alpaca style
    { instruction: "Summarise.", input: "Cats sleep a lot.", chosen: "Cats sleep much.", rejected: "Dogs bark.", system: "Be brief." },
  ];

  it("TRL and LLaMA-Factory rows are detected, written as preference JSONL, and pass `data validate`", async () => {
    // 10 pairs: the validator's minimum for a training file
    writeFileSync(
      at("dpo.jsonl"),
      jsonl([
        ...pairs,
        ...pairs.map((pair) => ({
          ...pair,
          rejected: typeof pair.rejected === "string" ? `${pair.rejected} (2)` : pair.rejected,
          ...(typeof pair.chosen === "string" && { chosen: `${pair.chosen} (2)` }),
        })),
      ]),
    );
    const result = await tunekit(["data", "convert", "dpo.jsonl", "dpo.pref.jsonl"]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain("detected preference pairs");
    expect(result.stdout).toContain("wrote 10 preference pairs");
    const written = jsonLines("dpo.pref.jsonl");
    expect(written[0]).toEqual({
      input: { messages: [{ role: "user", content: "What is 2+2?" }] },
      preferred_output: [{ role: "assistant", content: "4" }],
      non_preferred_output: [{ role: "assistant", content: "5" }],
    });
    expect(written[2]).toEqual({
      input: { messages: [{ role: "user", content: "Hi" }] },
      preferred_output: [{ role: "assistant", content: "Hello! How can I help?" }],
      non_preferred_output: [{ role: "assistant", content: "What." }],
    });
    expect(written[3]).toMatchObject({ input: { messages: [{ role: "user", content: "Name a colour." }] }, preferred_output: [{ role: "assistant", content: "Blue." }] });
    expect(written[4]).toMatchObject({
      input: {
        messages: [
          { role: "system", content: "Be brief." },
          { role: "user", content: "Summarise.\n\nCats sleep a lot." },
        ],
      },
    });
    const validate = await tunekit(["data", "validate", "dpo.pref.jsonl", "--json"]);
    expect(validate.code, validate.stdout).toBe(0);
    expect(validate.stdout).toContain("preference");
  });

  it("a CSV maps its two answers with --map …=chosen/rejected; --to preference from one-answer data is exit 2", async () => {
    writeFileSync(at("pairs.csv"), 'question,good,bad\n"Hi, there",Hello!,Go away.\n');
    const mapped = await tunekit(["data", "convert", "pairs.csv", "pairs.jsonl", "--map", "question=user", "--map", "good=chosen", "--map", "bad=rejected"]);
    expect(mapped.code, mapped.stderr).toBe(0);
    expect(jsonLines("pairs.jsonl")).toEqual([
      {
        input: { messages: [{ role: "user", content: "Hi, there" }] },
        preferred_output: [{ role: "assistant", content: "Hello!" }],
        non_preferred_output: [{ role: "assistant", content: "Go away." }],
      },
    ]);

    const chat = await tunekit(["data", "convert", "dpo.jsonl", "dpo.sft.jsonl", "--to", "chat"]);
    expect(chat.code, chat.stderr).toBe(0);
    expect(jsonLines("dpo.sft.jsonl")[0]).toEqual({
      messages: [
        { role: "user", content: "What is 2+2?" },
        { role: "assistant", content: "4" },
      ],
    });

    const refused = await tunekit(["data", "convert", "alpaca.json", "alpaca.pref.jsonl", "--to", "preference"]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain("`--to preference` needs two answers a row");
    expect(refused.stderr).not.toContain("detected");
    expect(existsSync(at("alpaca.pref.jsonl"))).toBe(false);
  });
});

describe("U+FFFD is never written", () => {
  it("a value holding U+FFFD stops the conversion with its line and the --encoding fix; no output", async () => {
    writeFileSync(
      at("mojibake.jsonl"),
      jsonl([
        { prompt: "Where is the café?", completion: "Next door." },
        { prompt: "Menu?", completion: "Caf\uFFFD au lait." },
      ]),
    );
    const result = await tunekit(["data", "convert", "mojibake.jsonl", "mojibake.chat.jsonl"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("line 2, column `completion`");
    expect(result.stderr).toContain("U+FFFD");
    expect(result.stderr).toContain("--encoding windows-1252");
    expect(existsSync(at("mojibake.chat.jsonl"))).toBe(false);
  });

  it("a Windows-1252 CSV is refused without --encoding and converts to the real text with it", async () => {
    writeFileSync(at("latin.csv"), Buffer.from("prompt,completion\r\nCaf\xe9?,Oui\r\n", "latin1"));
    const refused = await tunekit(["data", "convert", "latin.csv", "latin.jsonl"]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain("--encoding");
    expect(existsSync(at("latin.jsonl"))).toBe(false);
    const read = await tunekit(["data", "convert", "latin.csv", "latin.jsonl", "--encoding", "windows-1252"]);
    expect(read.code, read.stderr).toBe(0);
    expect(readFileSync(at("latin.jsonl"), "utf8")).toContain('"content":"Café?"');
    expect(readFileSync(at("latin.jsonl"), "utf8")).not.toContain("\uFFFD");
  });
});

describe("data split of a CSV keeps the table whole", () => {
  // exported Excel-style: BOM, CRLF, quoted fields holding commas, quotes and line breaks
  const rows = Array.from({ length: 20 }, (_, index) => [`Question ${index}, with a comma`, `Line one of ${index}\r\nline two, "quoted"`]);
  const quote = (field: string): string => `"${field.replace(/"/g, '""')}"`;
  const csv = `\uFEFFquestion,answer\r\n${rows.map((row) => row.map(quote).join(",")).join("\r\n")}\r\n`;

  it("each split is a CSV with the header and whole records; together they hold every row once", async () => {
    writeFileSync(at("excel.csv"), csv);
    const result = await tunekit(["data", "split", "excel.csv", "--validation", "0.2", "--test", "0.1"]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain("each split is a CSV file with the header row of the input");
    const seen: string[][] = [];
    for (const [name, size] of [
      ["train", 14],
      ["validation", 4],
      ["test", 2],
    ] as const) {
      const text = readFileSync(at(`excel.${name}.csv`), "utf8");
      expect(text.startsWith("\uFEFFquestion,answer\r\n"), name).toBe(true);
      const records = parseCsv(text, { bom: true }) as string[][];
      expect(records[0]).toEqual(["question", "answer"]);
      expect(records.slice(1), name).toHaveLength(size);
      seen.push(...records.slice(1));
    }
    expect(seen.sort()).toEqual([...rows].sort());
    expect(existsSync(at("excel.train.jsonl"))).toBe(false);
  });

  it("--json says what was written; a TSV splits into TSVs; a rerun needs --force", async () => {
    writeFileSync(at("table.tsv"), `q\ta\n${Array.from({ length: 10 }, (_, index) => `q${index}\ta${index}`).join("\n")}\n`);
    const result = await tunekit(["data", "split", "table.tsv", "--validation", "0.2", "--test", "0", "--json"]);
    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout);
    expect(report).toMatchObject({ input_format: "tsv", format: "tsv", examples: 10 });
    expect(report.splits.train.file).toMatch(/table\.train\.tsv$/);
    expect(readFileSync(at("table.validation.tsv"), "utf8").split("\n")[0]).toBe("q\ta");

    const again = await tunekit(["data", "split", "table.tsv", "--validation", "0.2", "--test", "0"]);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain("already exist");
    expect(again.stderr).toContain("--force");
    expect((await tunekit(["data", "split", "table.tsv", "--validation", "0.2", "--test", "0", "--force"])).code).toBe(0);
  });

  it("a Windows-1252 CSV is refused with its line, and split to UTF-8 CSVs with --encoding; a .csv.gz splits to plain CSVs", async () => {
    writeFileSync(at("latin-split.csv"), Buffer.from("q,a\nCaf\xe9,oui\nx,y\n", "latin1"));
    const refused = await tunekit(["data", "split", "latin-split.csv", "--validation", "0.5", "--test", "0"]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain("line 2 is not UTF-8");
    expect(refused.stderr).toContain("--encoding windows-1252");
    expect(existsSync(at("latin-split.train.csv"))).toBe(false);
    const read = await tunekit(["data", "split", "latin-split.csv", "--validation", "0.5", "--test", "0", "--encoding", "windows-1252"]);
    expect(read.code, read.stderr).toBe(0);
    expect(readFileSync(at("latin-split.train.csv"), "utf8") + readFileSync(at("latin-split.validation.csv"), "utf8")).toContain("Café,oui\n");

    writeFileSync(at("packed.csv.gz"), gzipSync(Buffer.from(csv)));
    const packed = await tunekit(["data", "split", "packed.csv.gz", "--validation", "0.5", "--test", "0"]);
    expect(packed.code, packed.stderr).toBe(0);
    const records = parseCsv(readFileSync(at("packed.train.csv"), "utf8"), { bom: true }) as string[][];
    expect(records[0]).toEqual(["question", "answer"]);
    expect(records).toHaveLength(11);
  });

  it("a JSONL line that is not UTF-8 stops the split with its line", async () => {
    writeFileSync(at("bytes.jsonl"), Buffer.concat([Buffer.from('{"text":"fine"}\n{"text":"Caf'), Buffer.from([0xe9]), Buffer.from('"}\n')]));
    const result = await tunekit(["data", "split", "bytes.jsonl"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("line 2");
    expect(existsSync(at("bytes.train.jsonl"))).toBe(false);
  });
});

describe("convert refuses to overwrite without --force", () => {
  it("an existing output is kept (exit 2) until --force", async () => {
    writeFileSync(at("kept.jsonl"), "precious\n");
    const refused = await tunekit(["data", "convert", "alpaca.json", "kept.jsonl"]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain("already exists");
    expect(readFileSync(at("kept.jsonl"), "utf8")).toBe("precious\n");
    const forced = await tunekit(["data", "convert", "alpaca.json", "kept.jsonl", "--force"]);
    expect(forced.code, forced.stderr).toBe(0);
    expect(jsonLines("kept.jsonl")).toHaveLength(2);
  });
});
