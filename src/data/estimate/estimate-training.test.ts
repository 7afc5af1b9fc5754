import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { TiktokenCounter } from "../tokens/tiktoken-counter.js";
import { estimateTraining, formatTrainingEstimate } from "./estimate-training.js";
import { defaultPriceTable, findHostedPrice, loadPriceTable, type PriceTable } from "./price-table.js";

const folder = mkdtempSync(path.join(os.tmpdir(), "tunekit-estimate-"));
afterAll(() => rmSync(folder, { recursive: true, force: true }));

// Two chat examples of 13 and 14 o200k tokens (see dataset-stats.test.ts for the arithmetic).
const file = path.join(folder, "train.jsonl");
writeFileSync(
  file,
  [
    {
      messages: [
        { role: "user", content: "hello" },
        { role: "assistant", content: "hello" },
      ],
    },
    {
      messages: [
        { role: "user", content: "hello" },
        { role: "assistant", content: "hello hello" },
      ],
    },
  ]
    .map((example) => JSON.stringify(example))
    .join("\n"),
);

const table: PriceTable = {
  currency: "USD",
  unit: "per 1M training tokens",
  models: [
    {
      provider: "openai",
      model: "gpt-4o-mini-2024-07-18",
      aliases: ["gpt-4o-mini"],
      training_per_million: 3,
      max_training_context: 65536,
      as_of: "2026-01-01",
      source: "https://example.test/a",
      fine_tuning_ends: "2027-01-06",
      shutdown: "2027-01-14",
    },
    {
      provider: "openai",
      model: "gpt-4.1-nano-2025-04-14",
      aliases: [],
      training_per_million: 1_000_000,
      max_training_context: 13,
      as_of: "2026-01-01",
      source: "https://example.test/b",
      fine_tuning_ends: null,
      shutdown: null,
    },
  ],
};

describe("estimateTraining", () => {
  it("bills epochs x capped tokens for each hosted model at its price", async () => {
    const estimate = await estimateTraining({ file, model: "gpt-4o-mini", counter: new TiktokenCounter("o200k_base", 65536), epochs: "auto", prices: table });
    expect(estimate.examples).toBe(2);
    expect(estimate.epochs).toBe(25); // 2 x 3 < 100 -> min(25, 100 // 2 = 50)
    const [mini, nano] = estimate.hosted;
    expect(mini).toMatchObject({ model: "gpt-4o-mini-2024-07-18", selected: true, billedTokensPerEpoch: 27, billedTokens: 675, examplesOverContext: 0 });
    expect(mini!.cost).toBeCloseTo((675 / 1e6) * 3, 12);
    // nano's cap of 13 bills the 14-token example as 13: (13 + 13) x 25 epochs at 1 per token
    expect(nano).toMatchObject({ selected: false, billedTokensPerEpoch: 26, billedTokens: 650, examplesOverContext: 1, cost: 650 });
    expect(estimate.local).toBeNull();
    expect(formatTrainingEstimate(estimate)).toContain("* gpt-4o-mini-2024-07-18");
  });

  it("for a local model reports processed tokens, and time only when a throughput is given", async () => {
    // a local model path counted with a real tokenizer whose context (13) caps the 14-token example
    const local = new TiktokenCounter("o200k_base", 13);
    const unknownTime = await estimateTraining({ file, model: "./my-model", counter: local, epochs: 2, prices: table });
    expect(unknownTime.epochs).toBe(2);
    expect(unknownTime.local).toMatchObject({ contextLength: 13, tokensPerEpoch: 26, trainedTokensPerEpoch: 3, tokensProcessed: 52, seconds: null });
    expect(unknownTime.local!.note).toContain("--tokens-per-second");
    const timed = await estimateTraining({ file, model: "./my-model", counter: local, epochs: 2, prices: table, tokensPerSecond: 13 });
    expect(timed.local!.seconds).toBe(4);
    expect(timed.hosted.every((row) => !row.selected)).toBe(true);
  });
});

describe("price table", () => {
  it("ships a dated, sourced price for each hosted fine-tunable model", () => {
    const prices = defaultPriceTable();
    for (const model of ["gpt-4o-2024-08-06", "gpt-4o-mini-2024-07-18", "gpt-4.1-2025-04-14", "gpt-4.1-mini", "gpt-4.1-nano", "gpt-3.5-turbo"]) {
      const entry = findHostedPrice(prices, model);
      expect(entry, model).not.toBeNull();
      expect(entry!.as_of).toMatch(/^\d{4}-\d{2}-\d{2}$/);
      expect(entry!.source).toMatch(/^https:\/\//);
      expect(entry!.training_per_million).toBeGreaterThan(0);
    }
    expect(findHostedPrice(prices, "ft:gpt-4o-mini-2024-07-18:acme:x:y")?.model).toBe("gpt-4o-mini-2024-07-18");
    expect(findHostedPrice(prices, "gpt-4o-mini")?.max_training_context).toBe(65536);
    expect(findHostedPrice(prices, "llama")).toBeNull();
  });

  it("reads an override file and lists every problem in a bad one", async () => {
    const good = path.join(folder, "prices.json");
    writeFileSync(good, JSON.stringify(table));
    expect((await loadPriceTable(good)).models).toHaveLength(2);
    const bad = path.join(folder, "bad-prices.json");
    writeFileSync(bad, JSON.stringify({ models: [{ provider: "openai", model: "x", training_per_million: -1 }] }));
    await expect(loadPriceTable(bad)).rejects.toMatchObject({ code: "invalid_price_table", field: "--prices" });
    try {
      await loadPriceTable(bad);
    } catch (error) {
      const fields = (error as { problems: Array<{ field: string }> }).problems.map((problem) => problem.field);
      expect(fields).toEqual(expect.arrayContaining(["models.0.training_per_million", "models.0.max_training_context", "models.0.as_of", "models.0.source"]));
    }
  });
});
