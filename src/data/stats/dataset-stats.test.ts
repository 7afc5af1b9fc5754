import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { TiktokenCounter } from "../tokens/tiktoken-counter.js";
import { computeDatasetStats, formatDatasetStats } from "./dataset-stats.js";

const folder = mkdtempSync(path.join(os.tmpdir(), "tunekit-stats-"));
afterAll(() => rmSync(folder, { recursive: true, force: true }));

function write(name: string, lines: string[]): string {
  const file = path.join(folder, name);
  writeFileSync(file, lines.join("\n") + "\n");
  return file;
}

const chat = (user: string, assistant: string) =>
  JSON.stringify({
    messages: [
      { role: "user", content: user },
      { role: "assistant", content: assistant },
    ],
  });

describe("computeDatasetStats", () => {
  it("summarizes messages, tokens and trained tokens, skipping and counting bad lines", async () => {
    // o200k: "user"/"assistant"/"hello" are 1 token each -> 3+1+1 + 3+1+1 + 3 = 13 tokens, 1 trained.
    // "hello hello" is 2 tokens -> 14 tokens, 2 trained.
    const file = write("mixed.jsonl", [
      chat("hello", "hello"),
      "{not json",
      chat("hello", "hello hello"),
      "",
      JSON.stringify({ unknown: true }),
      chat("hello", "hello hello"),
      JSON.stringify({ messages: "nope" }),
    ]);
    const stats = await computeDatasetStats(file, new TiktokenCounter("o200k_base", 13), { model: "gpt-4o-mini" });
    expect(stats.examples).toBe(3);
    expect(stats.formats).toEqual({ chat: 3 });
    expect(stats.messagesPerExample).toMatchObject({ min: 2, max: 2, mean: 2 });
    expect(stats.tokensPerExample).toMatchObject({ min: 13, max: 14, median: 14 });
    expect(stats.trainedTokensPerExample).toMatchObject({ min: 1, max: 2 });
    expect(stats.totalTokens).toBe(41);
    expect(stats.totalTrainedTokens).toBe(5);
    expect(stats.overContextLength).toBe(2);
    expect(stats.skipped.count).toBe(3);
    expect(stats.skipped.lines.map((skipped) => skipped.line)).toEqual([2, 5, 7]);
    expect(stats.skipped.hint).toContain("tunekit data validate");
    const text = formatDatasetStats(stats);
    expect(text).toContain("3 examples (chat 3)");
    expect(text).toContain("tiktoken o200k_base");
    expect(text).toContain("2 example(s) over the context length of 13 tokens");
    expect(text).toContain("line 2: not valid JSON");
  });

  it("counts prompt-completion and text lines, and skips lines of another format when --format is set", async () => {
    const file = write("formats.jsonl", [JSON.stringify({ prompt: "hello", completion: "hello hello" }), JSON.stringify({ text: "hello" }), chat("hello", "hello")]);
    const counter = new TiktokenCounter("o200k_base");
    const all = await computeDatasetStats(file, counter, { model: "gpt-4o" });
    expect(all.formats).toEqual({ "prompt-completion": 1, text: 1, chat: 1 });
    expect(all.totalTokens).toBe(3 + 1 + 13);
    expect(all.totalTrainedTokens).toBe(2 + 1 + 1);
    expect(all.overContextLength).toBeNull();
    const onlyChat = await computeDatasetStats(file, counter, { model: "gpt-4o", format: "chat" });
    expect(onlyChat.examples).toBe(1);
    expect(onlyChat.skipped.lines.map((skipped) => skipped.reason)).toEqual(["a prompt-completion example in a chat dataset", "a text example in a chat dataset"]);
  });

  it("reads a JSON array and a CSV of prompt-completion rows too", async () => {
    const counter = new TiktokenCounter("o200k_base");
    const array = path.join(folder, "array.json");
    writeFileSync(array, JSON.stringify([JSON.parse(chat("hello", "hello")), { text: "hello" }]));
    const fromArray = await computeDatasetStats(array, counter, { model: "gpt-4o" });
    expect(fromArray).toMatchObject({ examples: 2, totalTokens: 14, formats: { chat: 1, text: 1 } });
    const csv = path.join(folder, "pairs.csv");
    writeFileSync(csv, "prompt,completion\nhello,hello hello\nhello,hello\n");
    // (1 + 2) + (1 + 1) tokens, completions 2 + 1 trained
    const fromCsv = await computeDatasetStats(csv, counter, { model: "gpt-4o" });
    expect(fromCsv).toMatchObject({ examples: 2, totalTokens: 5, totalTrainedTokens: 3, formats: { "prompt-completion": 2 } });
  });

  it("fails clearly for a missing file", async () => {
    await expect(computeDatasetStats(path.join(folder, "missing.jsonl"), new TiktokenCounter("o200k_base"), { model: "gpt-4o" })).rejects.toMatchObject({
      code: "file_not_found",
    });
  });
});
