import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Tiktoken } from "js-tiktoken/lite";
import o200k from "js-tiktoken/ranks/o200k_base";
import { describe, expect, it } from "vitest";
import type { ChatExample } from "../../spec/dataset.js";
import type { ExampleTokenCounter } from "../token-counter.js";
import { PROBLEM_CODES, type ProblemCode } from "./problem-codes.js";
import { validateFile, type ValidateFileOptions } from "./validate-file.js";
import type { IndexLimits } from "./validation-state.js";

const fixtures = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../test/fixtures/validate");

interface Case {
  code: ProblemCode;
  file: string;
  /** the line that triggers the code; null for problems of the whole file */
  line: number | null;
  /** a line of the same file that must not get the code */
  clean_line: number | null;
  format?: string;
  counter?: "small-context";
  validation_file?: string;
  message_contains?: string;
  limits?: IndexLimits;
  /** read through the one reader (the CLI's mode), with these --map entries */
  any_format?: boolean;
  map?: string[];
  /** a hosted model (the format check against its provider) */
  model?: string;
}
const cases = JSON.parse(readFileSync(path.join(fixtures, "cases.json"), "utf8")) as Case[];

/**
 * A real token counter with a small context, built here from js-tiktoken (o200k_base) with the
 * cookbook rule: 3 tokens per message + every value encoded + 3 to prime the reply. js-tiktoken
 * refuses text holding special tokens such as <|endoftext|>, which is what token_count_failed
 * reports.
 */
function smallContextCounter(contextLength: number): ExampleTokenCounter {
  const encoding = new Tiktoken(o200k);
  return {
    method: "js-tiktoken o200k_base, cookbook rule (test)",
    contextLength,
    count(example: ChatExample) {
      let total = 3;
      let trained = 0;
      for (const message of example.messages) {
        total += 3;
        for (const value of Object.values(message)) if (typeof value === "string") total += encoding.encode(value).length;
        if (message.role === "assistant" && typeof message.content === "string") trained += encoding.encode(message.content).length;
      }
      return { total, trained };
    },
  };
}

function optionsFor(testCase: Case): ValidateFileOptions {
  return {
    format: (testCase.format ?? "auto") as ValidateFileOptions["format"],
    tokenCounter: testCase.counter === "small-context" ? smallContextCounter(60) : undefined,
    validationFile: testCase.validation_file ? path.join(fixtures, testCase.validation_file) : undefined,
    limits: testCase.limits,
    threads: 0,
    ...(testCase.any_format && { anyFormat: true }),
    ...(testCase.map && { map: testCase.map }),
    ...(testCase.model && { model: testCase.model }),
  };
}

describe("validateFile: one fixture per problem code", () => {
  it("has a fixture for every code", () => {
    expect(new Set(cases.map((testCase) => testCase.code))).toEqual(new Set(Object.keys(PROBLEM_CODES)));
  });

  it.each(cases.map((testCase) => [testCase.code, testCase] as const))("%s", async (_code, testCase) => {
    const report = await validateFile(path.join(fixtures, testCase.file), optionsFor(testCase));
    const problems = [...report.errors, ...report.warnings].filter((problem) => problem.code === testCase.code);
    const severity = PROBLEM_CODES[testCase.code].severity;
    expect(problems.map((problem) => problem.line)).toContain(testCase.line);
    const found = problems.find((problem) => problem.line === testCase.line);
    expect((severity === "error" ? report.errors : report.warnings).includes(found!)).toBe(true);
    expect(found!.message).toMatch(/`|;/); // names a field or says how to fix it
    if (testCase.message_contains) expect(found!.message).toContain(testCase.message_contains);
    if (testCase.clean_line !== null) {
      expect(problems.filter((problem) => problem.line === testCase.clean_line)).toEqual([]);
    }
    expect(report.stats.codes[testCase.code]).toBe(problems.length);
    if (severity === "error") expect(report.ok).toBe(false);
  });
});

describe("validateFile", () => {
  it("passes a clean file with no errors and no warnings", async () => {
    const report = await validateFile(path.join(fixtures, "clean-chat.jsonl"), { threads: 0, tokenCounter: smallContextCounter(4096) });
    expect(report.errors).toEqual([]);
    expect(report.warnings).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.stats).toMatchObject({ format: "chat", format_source: "detected from line 1", lines: 12, examples: 12, valid_examples: 12, blank_lines: 0 });
    expect(report.stats.tokens?.counted_examples).toBe(12);
    expect(report.stats.tokens?.total).toBeGreaterThan(12 * 20);
  });

  it("counts every problem but stores at most 1000 per code, in line order", async () => {
    const { mkdtempSync, writeFileSync, rmSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const directory = mkdtempSync(path.join(tmpdir(), "tunekit-validate-"));
    try {
      const file = path.join(directory, "many.jsonl");
      const lines = Array.from({ length: 1500 }, (_, index) => (index % 2 === 0 ? "{not json" : `{"messages": [{"role": "user", "content": "question ${index}"}]}`));
      writeFileSync(file, `${lines.join("\n")}\n`);
      const report = await validateFile(file, { threads: 0 });
      expect(report.stats.codes.invalid_json).toBe(750);
      expect(report.stats.codes.example_missing_assistant_message).toBe(750);
      expect(report.stats.codes.missing_system_message).toBe(750);
      const invalidJson = report.errors.filter((problem) => problem.code === "invalid_json");
      expect(invalidJson).toHaveLength(750);
      expect(invalidJson.slice(0, 3).map((problem) => problem.line)).toEqual([1, 3, 5]);
      const lineNumbers = report.errors.map((problem) => problem.line ?? Number.POSITIVE_INFINITY);
      expect(lineNumbers).toEqual([...lineNumbers].sort((a, b) => a - b));

      const capped = path.join(directory, "capped.jsonl");
      writeFileSync(capped, `${Array.from({ length: 1200 }, () => "[]").join("\n")}\n`);
      const cappedReport = await validateFile(capped, { threads: 0 });
      expect(cappedReport.stats.codes.data_type).toBe(1200);
      expect(cappedReport.errors.filter((problem) => problem.code === "data_type")).toHaveLength(1000);
      expect(cappedReport.stats.errors).toBe(1200);
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });

  it("reports validation-file problems with the file named, and its stats apart", async () => {
    const report = await validateFile(path.join(fixtures, "clean-chat.jsonl"), {
      threads: 0,
      validationFile: path.join(fixtures, "blank_line.jsonl"),
    });
    const blank = report.warnings.find((problem) => problem.code === "blank_line");
    expect(blank).toMatchObject({ line: 2, file: path.join(fixtures, "blank_line.jsonl") });
    expect(report.stats.validation?.blank_lines).toBe(1);
    // blank_line.jsonl holds lines 1 and 2 of clean-chat.jsonl: their prompts overlap
    expect(report.stats.validation_overlap).toBe(2);
    expect(report.warnings.filter((problem) => problem.code === "train_validation_overlap").map((problem) => problem.line)).toEqual([1, 2]);
  });

  it("follows --format over detection and rejects unknown formats as usage errors", async () => {
    const report = await validateFile(path.join(fixtures, "clean-chat.jsonl"), { threads: 0, format: "prompt-completion" });
    expect(report.stats.format_source).toBe("--format prompt-completion");
    expect(report.stats.codes.format_mismatch).toBe(12);
    await expect(validateFile(path.join(fixtures, "clean-chat.jsonl"), { format: "jsonl" as never })).rejects.toMatchObject({ kind: "usage", field: "--format" });
    await expect(validateFile(path.join(fixtures, "missing.jsonl"))).rejects.toMatchObject({ kind: "usage", code: "file_not_found" });
  });
});
