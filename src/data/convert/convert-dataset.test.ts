import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parquetWriteFile } from "hyparquet-writer";
import { afterAll, describe, expect, it } from "vitest";
import { TunekitError } from "../../core/errors.js";
import { convertDataset } from "./convert-dataset.js";

const fixtures = fileURLToPath(new URL("../../../test/fixtures/convert/", import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), "tunekit-convert-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

let outputs = 0;
function outputPath(): string {
  outputs += 1;
  return join(scratch, `out-${outputs}.jsonl`);
}

function readExamples(path: string): { messages: { role: string; content: string }[] }[] {
  return readFileSync(path, "utf8")
    .trimEnd()
    .split("\n")
    .map((line) => JSON.parse(line));
}

const qaMap = ["question=user", "answer=assistant"];

describe("convertDataset", () => {
  it("csv: maps columns, keeps quoted commas and line breaks, reports the empty answer at its line", async () => {
    const output = outputPath();
    const report = await convertDataset({ input: join(fixtures, "qa.csv"), output, map: qaMap });
    expect(report).toMatchObject({ from: "csv", written: 4, skipped: 1 });
    expect(report.problems).toEqual([
      expect.objectContaining({ row: 4, line: 6, column: "answer", field: "assistant", code: "empty_value", message: expect.stringMatching(/^line 6: /) }),
    ]);
    const examples = readExamples(output);
    expect(examples.map((example) => example.messages[0]?.content)).toEqual([
      "What is the capital of France?",
      "Name two primary colors, please.",
      "Write a haiku\nabout rain",
      "What is 2+2?",
    ]);
    expect(examples[3]?.messages[1]).toEqual({ role: "assistant", content: "4" });
  });

  it("tsv: reports the empty question at its line", async () => {
    const output = outputPath();
    const report = await convertDataset({ input: join(fixtures, "qa.tsv"), output, map: qaMap, system: "Answer briefly." });
    expect(report).toMatchObject({ from: "tsv", written: 2, skipped: 1 });
    expect(report.problems[0]).toMatchObject({ row: 2, line: 3, column: "question" });
    expect(readExamples(output)[1]?.messages).toEqual([
      { role: "system", content: "Answer briefly." },
      { role: "user", content: 'Translate "chat" to English.' },
      { role: "assistant", content: "cat" },
    ]);
  });

  it("json: a top-level array; numbers and lists become text; a missing key is reported by row", async () => {
    const output = outputPath();
    const report = await convertDataset({ input: join(fixtures, "qa.json"), output, map: qaMap });
    expect(report).toMatchObject({ from: "json", written: 3, skipped: 1 });
    expect(report.problems[0]).toMatchObject({ row: 3, column: "answer", code: "missing_column" });
    expect(report.problems[0]?.line).toBeUndefined();
    expect(readExamples(output).map((example) => example.messages[1]?.content)).toEqual(["Paris", "366", "[2,3,5]"]);
  });

  it("jsonl: default prompt/completion/system columns; bad JSON and empty prompt reported by line", async () => {
    const output = outputPath();
    const report = await convertDataset({ input: join(fixtures, "qa.jsonl"), output });
    expect(report).toMatchObject({ from: "jsonl", mapping: null, written: 3, skipped: 2 });
    expect(report.problems.map((problem) => [problem.line, problem.code])).toEqual([
      [4, "invalid_json"],
      [5, "empty_value"],
    ]);
    expect(readExamples(output)[1]?.messages[0]).toEqual({ role: "system", content: "You are a spelling tutor." });
  });

  it("parquet: reads every row group (written at test time) and reports rows by number", async () => {
    const input = join(scratch, "qa.parquet");
    parquetWriteFile({
      filename: input,
      rowGroupSize: 2,
      columnData: [
        { name: "question", data: ["q1", "q2", "q3", null, "q5"], type: "STRING" },
        { name: "answer", data: ["a1", "a2", "a3", "a4", "a5"], type: "STRING" },
        { name: "score", data: [1.5, 2, 3, 4, 5], type: "DOUBLE" },
      ],
    });
    const output = outputPath();
    const report = await convertDataset({ input, output, map: ["question=user", "answer=assistant", "score=system"] });
    expect(report).toMatchObject({ from: "parquet", written: 4, skipped: 1 });
    expect(report.problems[0]).toMatchObject({ row: 4, column: "question", field: "user" });
    const examples = readExamples(output);
    expect(examples.map((example) => example.messages[1]?.content)).toEqual(["q1", "q2", "q3", "q5"]);
    expect(examples[0]?.messages[0]).toEqual({ role: "system", content: "1.5" });
  });

  it("alpaca: instruction + blank line + input; system and history; empty output reported", async () => {
    const output = outputPath();
    const report = await convertDataset({ input: join(fixtures, "alpaca.json"), output, from: "alpaca" });
    expect(report).toMatchObject({ from: "alpaca", container: "json", written: 3, skipped: 1 });
    expect(report.problems[0]).toMatchObject({ row: 3, column: "output" });
    const examples = readExamples(output);
    expect(examples[0]?.messages[0]?.content).toBe("Translate the sentence to French.\n\nThe cat sleeps.");
    expect(examples[2]?.messages.map((message) => message.role)).toEqual(["system", "user", "assistant", "user", "assistant"]);
  });

  it("sharegpt: roles mapped; an unknown role is reported with its turn and line", async () => {
    const output = outputPath();
    const report = await convertDataset({ input: join(fixtures, "sharegpt.jsonl"), output, from: "sharegpt" });
    expect(report).toMatchObject({ from: "sharegpt", container: "jsonl", written: 3, skipped: 1 });
    expect(report.problems[0]).toMatchObject({ line: 3, column: "conversations[1].from", code: "unknown_role" });
    expect(readExamples(output)[2]?.messages.map((message) => message.role)).toEqual(["system", "user", "tool", "assistant"]);
  });

  it("alpaca in a .json file holding JSON Lines is sniffed as jsonl", async () => {
    const input = join(scratch, "alpaca-lines.json");
    writeFileSync(input, '{"instruction":"a","input":"b","output":"c"}\n{"instruction":"d","output":"e"}\n');
    const report = await convertDataset({ input, output: outputPath(), from: "alpaca" });
    expect(report).toMatchObject({ container: "jsonl", written: 2, skipped: 0 });
  });

  it("without --from, a .json file holding JSON Lines is read as jsonl; with --from json it must be an array", async () => {
    const input = join(scratch, "lines.json");
    writeFileSync(input, '{"prompt":"a","completion":"b"}\n{"prompt":"c","completion":"d"}\n');
    expect(await convertDataset({ input, output: outputPath() })).toMatchObject({ from: "jsonl", written: 2 });
    await expect(convertDataset({ input, output: outputPath(), from: "json" })).rejects.toMatchObject({ code: "invalid_json", fix: expect.stringContaining("--from jsonl") });
  });

  it("keeps at most maxProblems problems and counts the rest", async () => {
    const input = join(scratch, "many-bad.jsonl");
    writeFileSync(input, `${'{"prompt":"","completion":"x"}\n'.repeat(7)}{"prompt":"ok","completion":"ok"}\n`);
    const report = await convertDataset({ input, output: outputPath(), maxProblems: 3 });
    expect(report).toMatchObject({ written: 1, skipped: 7, problems_omitted: 4 });
    expect(report.problems).toHaveLength(3);
  });

  it("usage errors (exit 2): unknown format, unknown extension, a --map column the header lacks, --map with alpaca, output = input", async () => {
    const cases: [Parameters<typeof convertDataset>[0], string][] = [
      [{ input: join(fixtures, "qa.csv"), output: outputPath(), from: "xml" }, "unknown_format"],
      [{ input: join(fixtures, "README"), output: outputPath() }, "unknown_format"],
      [{ input: join(fixtures, "qa.csv"), output: outputPath(), map: ["query=user", "answer=assistant"] }, "unknown_column"],
      [{ input: join(fixtures, "qa.csv"), output: outputPath() }, "unmapped_field"],
      [{ input: join(fixtures, "alpaca.json"), output: outputPath(), from: "alpaca", map: qaMap }, "map_not_applicable"],
      [{ input: join(fixtures, "qa.jsonl"), output: join(fixtures, "qa.jsonl") }, "output_is_input"],
    ];
    for (const [options, code] of cases) {
      const error = await convertDataset(options).catch((caught: unknown) => caught);
      expect(error, code).toBeInstanceOf(TunekitError);
      expect((error as TunekitError).code).toBe(code);
      expect((error as TunekitError).exitCode).toBe(2);
    }
  });

  it("leaves no output behind when the input turns out unreadable", async () => {
    const input = join(scratch, "broken.csv");
    writeFileSync(input, 'question,answer\nok,fine\n"never closed,x\n');
    const output = join(scratch, "broken-out.jsonl");
    await expect(convertDataset({ input, output, map: qaMap })).rejects.toThrow(/not valid CSV/);
    expect(existsSync(output)).toBe(false);
    expect(readdirSync(scratch).filter((name) => name.startsWith("broken-out"))).toEqual([]);
  });
});
