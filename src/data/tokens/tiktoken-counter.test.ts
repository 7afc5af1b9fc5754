import { describe, expect, it } from "vitest";
import type { ChatExample } from "../../spec/dataset.js";
import { billedTokensPerEpoch } from "../estimate/billed-tokens.js";
import { resolveEpochs } from "../estimate/resolve-epochs.js";
import { summarize } from "../stats/distribution.js";
import { loadTokenCounter } from "./load-token-counter.js";
import { TiktokenCounter, baseModelName, openAiEncodingFor } from "./tiktoken-counter.js";

// The example of the cookbook's How_to_count_tokens_with_tiktoken notebook; the notebook reports
// 129 prompt tokens for gpt-3.5-turbo-0613 / gpt-4 (cl100k_base) and 124 for gpt-4o /
// gpt-4o-mini (o200k_base), matching the API's usage.prompt_tokens.
const jargon: ChatExample = {
  messages: [
    { role: "system", content: "You are a helpful, pattern-following assistant that translates corporate jargon into plain English." },
    { role: "system", name: "example_user", content: "New synergies will help drive top-line growth." },
    { role: "system", name: "example_assistant", content: "Things working well together will increase revenue." },
    {
      role: "system",
      name: "example_user",
      content: "Let's circle back when we have more bandwidth to touch base on opportunities for increased leverage.",
    },
    { role: "system", name: "example_assistant", content: "Let's talk later when we're less busy about how to do better." },
    { role: "user", content: "This late pivot means we don't have time to boil the ocean for the client deliverable." },
  ],
};

// examples/data/toy_chat_fine_tuning.jsonl of the cookbook (Chat_finetuning_data_prep.ipynb).
function cookbookToyDataset(): ChatExample[] {
  const happy = "You are a happy assistant that puts a positive spin on everything.";
  return [
    {
      messages: [
        { role: "system", content: happy },
        { role: "user", content: "I fell off my bike today." },
        { role: "assistant", content: "It's great that you're getting exercise outdoors!" },
      ],
    },
    {
      messages: [
        { role: "system", content: happy },
        { role: "user", content: "I lost my tennis match today." },
        { role: "assistant", content: "It's ok, it happens to everyone." },
        { role: "user", content: "But I trained so hard!" },
        { role: "assistant", content: "It will pay off next time." },
        { role: "user", content: "I'm going to switch to golf." },
        { role: "assistant", content: "Golf is fun too!" },
        { role: "user", content: "I don't even know how to play golf." },
        { role: "assistant", content: "It's easy to learn!" },
      ],
    },
    {
      messages: [
        { role: "user", content: "I lost my book today." },
        { role: "assistant", content: "You can read everything on ebooks these days!" },
      ],
    },
    {
      messages: [
        { role: "system", content: happy },
        { role: "assistant", content: "You're great!" },
      ],
    },
    {
      messages: [
        { role: "system", content: happy },
        { role: "user", content: "I'm hungry." },
        { role: "assistant", content: "Eat a banana!".repeat(2000) },
      ],
    },
  ];
}

describe("openAiEncodingFor", () => {
  it("maps OpenAI model names and ft: ids to their tiktoken encoding", () => {
    expect(openAiEncodingFor("gpt-4o-mini-2024-07-18")).toBe("o200k_base");
    expect(openAiEncodingFor("gpt-4o")).toBe("o200k_base");
    expect(openAiEncodingFor("gpt-4.1-nano")).toBe("o200k_base");
    expect(openAiEncodingFor("o3-mini")).toBe("o200k_base");
    expect(openAiEncodingFor("o4-mini-2025-04-16")).toBe("o200k_base");
    expect(openAiEncodingFor("gpt-3.5-turbo-0125")).toBe("cl100k_base");
    expect(openAiEncodingFor("gpt-4-0613")).toBe("cl100k_base");
    expect(openAiEncodingFor("gpt-4")).toBe("cl100k_base");
    expect(openAiEncodingFor("ft:gpt-4o-mini-2024-07-18:acme:support:abc123")).toBe("o200k_base");
    expect(openAiEncodingFor("ft:gpt-3.5-turbo-0125:acme::xyz")).toBe("cl100k_base");
    expect(openAiEncodingFor("HuggingFaceTB/SmolLM2-135M-Instruct")).toBeNull();
    expect(openAiEncodingFor("model.gguf")).toBeNull();
    expect(openAiEncodingFor("o1x")).toBeNull();
    expect(baseModelName("ft:gpt-4o-2024-08-06:acme:s:id")).toBe("gpt-4o-2024-08-06");
  });
});

describe("TiktokenCounter (the cookbook rule)", () => {
  it("reproduces the cookbook's documented prompt counts: 129 with cl100k_base, 124 with o200k_base", async () => {
    expect(new TiktokenCounter("cl100k_base").countMessages(jargon)).toBe(129);
    expect(new TiktokenCounter("o200k_base").countMessages(jargon)).toBe(124);
    const counter = await loadTokenCounter("gpt-4o-mini-2024-07-18");
    expect(counter.count(jargon)).toEqual({ total: 124, trained: 0 });
    expect(counter.method).toContain("o200k_base");
    expect(counter.contextLength).toBe(65536);
    expect((await loadTokenCounter("gpt-3.5-turbo")).contextLength).toBe(16385);
  });

  it("hand-checkable: 3 per message + role + content (+1 and the name for `name`) + 3", () => {
    const counter = new TiktokenCounter("o200k_base");
    // "user" and "hello" are one token each: 3 + 1 + 1 + 3
    expect(counter.count({ messages: [{ role: "user", content: "hello" }] })).toEqual({ total: 8, trained: 0 });
    // + name "bob" (1 token) + 1 for the name key
    expect(counter.countMessages({ messages: [{ role: "user", content: "hello", name: "bob" }] })).toBe(10);
    // assistant "hello" trained; weight is not a counted value, and weight 0 is not trained
    expect(
      counter.count({
        messages: [
          { role: "user", content: "hello" },
          { role: "assistant", content: "hello" },
        ],
      }),
    ).toEqual({ total: 13, trained: 1 });
    expect(
      counter.count({
        messages: [
          { role: "user", content: "hello" },
          { role: "assistant", content: "hello", weight: 0 },
        ],
      }),
    ).toEqual({ total: 13, trained: 0 });
    // special-token text in the data counts as ordinary text instead of throwing
    expect(counter.encode("<|endoftext|>")).toBeGreaterThan(1);
  });

  it("reproduces the cookbook's data-prep numbers on its toy dataset", () => {
    const counter = new TiktokenCounter("cl100k_base");
    const dataset = cookbookToyDataset();
    const counts = dataset.map((example) => counter.count(example));
    const totals = counts.map((count) => count.total);
    // Cookbook output: min / max 26, 8032; mean / median 1648.4, 45.0; p10 / p90 26.8, 4863.6
    expect(summarize(totals)).toEqual({ min: 26, max: 8032, mean: 1648.4, median: 45, p10: expect.closeTo(26.8, 9), p90: expect.closeTo(4863.6, 9) });
    // assistant tokens: 4, 8000; 1610.2, 10.0; 6.0, 4811.2
    const trained = summarize(counts.map((count) => count.trained))!;
    expect(trained).toMatchObject({ min: 4, max: 8000, mean: 1610.2, median: 10 });
    expect(trained.p10).toBeCloseTo(6, 9);
    expect(trained.p90).toBeCloseTo(4811.2, 9);
    expect(summarize(dataset.map((example) => example.messages.length))).toMatchObject({ min: 2, max: 9, mean: 3.8, median: 3 });
    // "Dataset has ~4306 tokens that will be charged for during training" (cap 4096 in that run),
    // "you'll train for 20 epochs", "charged for ~86120 tokens"
    expect(billedTokensPerEpoch(totals, 4096)).toBe(4306);
    expect(resolveEpochs(dataset.length, "auto")).toBe(20);
    expect(resolveEpochs(dataset.length, "auto") * billedTokensPerEpoch(totals, 4096)).toBe(86120);
  });
});
