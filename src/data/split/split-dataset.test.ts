import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { TunekitError } from "../../core/errors.js";
import { splitDataset, splitGroupKey, type SplitDatasetOptions } from "./split-dataset.js";

const scratch = mkdtempSync(join(tmpdir(), "tunekit-split-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function chat(user: string, assistant: string): string {
  return JSON.stringify({
    messages: [
      { role: "user", content: user },
      { role: "assistant", content: assistant },
    ],
  });
}

let folders = 0;
function folder(): string {
  folders += 1;
  return join(scratch, `run-${folders}`);
}

function write(name: string, lines: string[]): string {
  const path = join(scratch, name);
  writeFileSync(path, `${lines.join("\n")}\n`);
  return path;
}

function readSplits(outDir: string, stem: string): Record<"train" | "validation" | "test", string[]> {
  const read = (name: string): string[] => {
    try {
      return readFileSync(join(outDir, `${stem}.${name}.jsonl`), "utf8")
        .split("\n")
        .filter(Boolean);
    } catch {
      return [];
    }
  };
  return { train: read("train"), validation: read("validation"), test: read("test") };
}

const distinct = Array.from({ length: 200 }, (_, index) => chat(`question number ${index}`, `answer ${index}`));

async function run(file: string, options: Partial<SplitDatasetOptions> = {}) {
  const outDir = folder();
  const report = await splitDataset({ file, validation: 0.1, test: 0.1, seed: 42, outDir, ...options });
  return { report, outDir };
}

describe("splitDataset", () => {
  it("writes round(N * ratio) examples to validation and test, the rest to train, every line exactly once", async () => {
    const file = write("two-hundred.jsonl", distinct);
    const { report, outDir } = await run(file, { validation: 0.15, test: 0.05 });
    expect(report.splits.validation.examples).toBe(30);
    expect(report.splits.test.examples).toBe(10);
    expect(report.splits.train.examples).toBe(160);
    const splits = readSplits(outDir, "two-hundred");
    expect([splits.train.length, splits.validation.length, splits.test.length]).toEqual([160, 30, 10]);
    expect([...splits.train, ...splits.validation, ...splits.test].sort()).toEqual([...distinct].sort());
    // within a split the input order is kept
    expect(splits.test).toEqual(distinct.filter((line) => splits.test.includes(line)));
  });

  it("is byte-identical for the same seed and input, and differs for another seed", async () => {
    const file = write("determinism.jsonl", distinct);
    const first = await run(file);
    const second = await run(file);
    const other = await run(file, { seed: 7 });
    for (const name of ["train", "validation", "test"]) {
      const bytes = (outDir: string) => readFileSync(join(outDir, `determinism.${name}.jsonl`));
      expect(bytes(second.outDir).equals(bytes(first.outDir))).toBe(true);
    }
    expect(readSplits(other.outDir, "determinism").test).not.toEqual(readSplits(first.outDir, "determinism").test);
  });

  it("assigns by content, not position: shuffling the input lines keeps every example in its split", async () => {
    const reversed = write("reversed.jsonl", [...distinct].reverse());
    const forward = write("forward.jsonl", distinct);
    const a = readSplits((await run(forward)).outDir, "forward");
    const b = readSplits((await run(reversed)).outDir, "reversed");
    expect([...b.test].sort()).toEqual([...a.test].sort());
    expect([...b.validation].sort()).toEqual([...a.validation].sort());
  });

  it("keeps exact duplicates (and key-order or spacing variants) together in one split", async () => {
    const duplicated = [...distinct];
    for (let index = 0; index < 40; index += 4) {
      duplicated.push(distinct[index] as string);
      duplicated.push(
        JSON.stringify({
          messages: [
            { content: `question number ${index}`, role: "user" },
            { content: `answer ${index}`, role: "assistant" },
          ],
        }),
      );
    }
    const file = write("duplicates.jsonl", duplicated);
    const { report, outDir } = await run(file);
    expect(report.examples).toBe(220);
    expect(report.groups).toBe(200);
    const splits = readSplits(outDir, "duplicates");
    const splitOf = (text: string) => (["train", "validation", "test"] as const).filter((name) => splits[name].some((line) => line.includes(`"${text}"`)));
    for (let index = 0; index < 40; index += 4) expect(splitOf(`question number ${index}`)).toHaveLength(1);
  });

  it("with groupBy prompt, one question with two answers never straddles splits", async () => {
    const lines = distinct.flatMap((line, index) => [line, chat(`  QUESTION number ${index} `, `another answer ${index}`)]);
    const file = write("same-prompt.jsonl", lines);
    expect((await run(file)).report.groups).toBe(400);
    const { report, outDir } = await run(file, { groupBy: "prompt" });
    expect(report.groups).toBe(200);
    const splits = readSplits(outDir, "same-prompt");
    const promptsOf = (name: "train" | "validation" | "test") => new Set(splits[name].map((line) => (JSON.parse(line).messages[0].content as string).trim().toLowerCase()));
    const train = promptsOf("train");
    for (const prompt of [...promptsOf("validation"), ...promptsOf("test")]) expect(train.has(prompt)).toBe(false);
    expect(report.splits.test.examples % 2).toBe(0);
  });

  it("writes only the splits asked for and warns when a requested split rounds to empty", async () => {
    const file = write("tiny.jsonl", distinct.slice(0, 4));
    const { report, outDir } = await run(file, { validation: 0.1, test: 0 });
    expect(report.splits.test.file).toBeNull();
    expect(readdirSync(outDir).sort()).toEqual(["tiny.train.jsonl", "tiny.validation.jsonl"]);
    expect(report.warnings.join("\n")).toMatch(/validation split is empty/);
  });

  it("warns when one group is large (a fixed instruction grouped by prompt)", async () => {
    const file = write(
      "fixed-instruction.jsonl",
      distinct.slice(0, 50).map((_, index) => chat("Summarize.", `summary ${index}`)),
    );
    const { report } = await run(file, { groupBy: "prompt" });
    expect(report.groups).toBe(1);
    expect(report.splits.train.examples).toBe(50);
    expect(report.warnings.join("\n")).toMatch(/one group holds 50 of the 50 examples/);
  });

  it("splits lines that are not JSON by their text and says so", async () => {
    const file = write("mixed.jsonl", [...distinct.slice(0, 9), "not json at all", "", "   "]);
    const { report } = await run(file);
    expect(report).toMatchObject({ examples: 10, blank_lines: 2, unparsable_lines: 1 });
    expect(report.warnings.join("\n")).toMatch(/tunekit data validate/);
  });

  it("refuses bad ratios, a bad seed and a missing file as usage errors", async () => {
    const file = write("usage.jsonl", distinct.slice(0, 10));
    for (const options of [{ validation: 1 }, { test: -0.1 }, { validation: 0.5, test: 0.5 }, { seed: 1.5 }, { file: join(scratch, "missing.jsonl") }]) {
      const error = await run(file, options).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(TunekitError);
      expect((error as TunekitError).exitCode).toBe(2);
    }
  });
});

describe("splitGroupKey", () => {
  it("ignores key order, JSON spacing, case and whitespace runs", () => {
    const a = splitGroupKey(chat("Hello  World", "x"), "example").key;
    const b = splitGroupKey(
      JSON.stringify(
        {
          messages: [
            { content: "hello world", role: "user" },
            { content: "x", role: "assistant" },
          ],
        },
        null,
        1,
      ).replace(/\n/g, " "),
      "example",
    ).key;
    expect(b).toEqual(a);
    expect(splitGroupKey(chat("Hello World", "y"), "example").key).not.toEqual(a);
    expect(splitGroupKey(chat("Hello World", "y"), "prompt").key).toEqual(splitGroupKey(chat("hello world", "x"), "prompt").key);
  });
});
