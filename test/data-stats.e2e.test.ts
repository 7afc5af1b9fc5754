import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

// End to end: the real CLI (dist/cli/main.js, built by `make build`), the real tokenizers, a small file.
const repoRoot = fileURLToPath(new URL("..", import.meta.url));
const folder = mkdtempSync(path.join(os.tmpdir(), "tunekit-stats-e2e-"));
afterAll(() => rmSync(folder, { recursive: true, force: true }));

function tunekit(...args: string[]) {
  const result = spawnSync(process.execPath, [path.join(repoRoot, "dist", "cli", "main.js"), ...args], {
    cwd: repoRoot,
    encoding: "utf8",
    env: { ...process.env, HF_HUB_CACHE: path.join(folder, "empty-hub-cache") },
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

// o200k_base: "user", "assistant", "hello" are one token each, "hello hello" two.
const train = path.join(folder, "train.jsonl");
writeFileSync(
  train,
  [
    JSON.stringify({
      messages: [
        { role: "user", content: "hello" },
        { role: "assistant", content: "hello" },
      ],
    }), // 13 tokens, 1 trained
    "this line is not JSON",
    JSON.stringify({
      messages: [
        { role: "user", content: "hello" },
        { role: "assistant", content: "hello hello" },
      ],
    }), // 14, 2
    JSON.stringify({
      messages: [
        { role: "system", content: "hello" },
        { role: "user", content: "hello" },
        { role: "assistant", content: "hello" },
      ],
    }), // 18, 1
  ].join("\n") + "\n",
);

describe("tunekit data stats", () => {
  it("--json prints the numbers of the report", () => {
    const { status, stdout } = tunekit("data", "stats", train, "--model", "gpt-4o-mini-2024-07-18", "--json");
    expect(status).toBe(0);
    const stats = JSON.parse(stdout);
    expect(stats).toMatchObject({
      file: train,
      model: "gpt-4o-mini-2024-07-18",
      context_length: 65536,
      examples: 3,
      formats: { chat: 3 },
      skipped: { count: 1, lines: [{ line: 2 }] },
      messages_per_example: { min: 2, max: 3, median: 2 },
      tokens_per_example: { min: 13, max: 18, mean: 15, median: 14 },
      trained_tokens_per_example: { min: 1, max: 2, median: 1 },
      total_tokens: 45,
      total_trained_tokens: 4,
      over_context_length: 0,
    });
    expect(stats.method).toMatch(/tiktoken o200k_base/);
    expect(stats.tokens_per_example.p10).toBeCloseTo(13.2, 9);
    expect(stats.tokens_per_example.p90).toBeCloseTo(17.2, 9);
    expect(stats.histogram.reduce((sum: number, bin: { count: number }) => sum + bin.count, 0)).toBe(3);
  });

  it("prints a readable report with a histogram and points at validate for skipped lines", () => {
    const { status, stdout } = tunekit("data", "stats", train, "--model", "gpt-3.5-turbo");
    expect(status).toBe(0);
    expect(stdout).toContain("3 examples (chat 3)");
    expect(stdout).toContain("counted with: tiktoken cl100k_base");
    expect(stdout).toMatch(/tokens per example:\n\s*13 - /);
    expect(stdout).toContain("line 2: not valid JSON");
    expect(stdout).toContain("tunekit data validate");
  });

  it("fails with exit 1 and a fix for a hub id with no local copy, as JSON with --json", () => {
    const { status, stdout } = tunekit("data", "stats", train, "--model", "HuggingFaceTB/SmolLM2-135M-Instruct", "--json");
    expect(status).toBe(1);
    const { error } = JSON.parse(stdout);
    expect(error).toMatchObject({ code: "model_not_found", field: "model" });
    expect(error.fix).toContain("--model");
  });

  it("rejects a bad --format with exit 2", () => {
    const { status, stderr } = tunekit("data", "stats", train, "--model", "gpt-4o", "--format", "csv");
    expect(status).toBe(2);
    expect(stderr).toContain("`--format`");
  });
});

describe("tunekit estimate", () => {
  it("--json gives epochs by the cookbook rule and a dated price per hosted model", () => {
    const { status, stdout } = tunekit("estimate", train, "--model", "gpt-4o-mini", "--json");
    expect(status).toBe(0);
    const estimate = JSON.parse(stdout);
    expect(estimate).toMatchObject({ examples: 3, epochs: 25, local: null }); // 3 x 3 < 100 -> min(25, 33)
    const mini = estimate.hosted.find((row: { model: string }) => row.model === "gpt-4o-mini-2024-07-18");
    expect(mini).toMatchObject({ selected: true, billed_tokens_per_epoch: 45, billed_tokens: 1125, max_training_context: 65536, currency: "USD" });
    expect(mini.cost).toBeCloseTo((1125 / 1e6) * mini.price_per_million, 4); // --json rounds money (to the cent, or two significant digits under one)
    expect(mini.source).toMatch(/^https:\/\//);
    expect(estimate.hosted.map((row: { model: string }) => row.model)).toEqual(
      expect.arrayContaining(["gpt-4o-2024-08-06", "gpt-4.1-2025-04-14", "gpt-4.1-mini-2025-04-14", "gpt-4.1-nano-2025-04-14", "gpt-3.5-turbo-0125"]),
    );
  });

  it("takes --epochs N and --prices FILE", () => {
    const prices = path.join(folder, "prices.json");
    writeFileSync(
      prices,
      JSON.stringify({
        models: [
          {
            provider: "openai",
            model: "gpt-4o-mini-2024-07-18",
            training_per_million: 1_000_000,
            max_training_context: 14,
            as_of: "2026-11-24",
            source: "https://example.test/prices",
          },
        ],
      }),
    );
    const { status, stdout } = tunekit("estimate", train, "--model", "gpt-4o-mini", "--epochs", "2", "--prices", prices, "--json");
    expect(status).toBe(0);
    const estimate = JSON.parse(stdout);
    expect(estimate.epochs).toBe(2);
    // 13 + 14 + min(14, 18) = 41 per epoch, 82 billed, 1 per token
    expect(estimate.hosted).toEqual([expect.objectContaining({ billed_tokens: 82, cost: 82, examples_over_context: 1, as_of: "2026-11-24" })]);
  });

  it("rejects --epochs 0 with exit 2", () => {
    const { status, stderr } = tunekit("estimate", train, "--model", "gpt-4o-mini", "--epochs", "0");
    expect(status).toBe(2);
    expect(stderr).toContain("`--epochs`");
  });
});
