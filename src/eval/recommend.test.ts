import { describe, expect, it } from "vitest";
import { recommend, type RecommendationInput, type StrategySummary } from "./recommend.js";

const summary = (strategy: StrategySummary["strategy"], mean: number, per1000: number, promptTokens: number, halfWidth = 0.05): StrategySummary => ({
  strategy,
  score: { mean, low: mean - halfWidth, high: mean + halfWidth },
  per1000Requests: per1000,
  meanPromptTokens: promptTokens,
  latencyP50Ms: promptTokens,
});

const input = (strategies: StrategySummary[], overrides: Partial<RecommendationInput> = {}): RecommendationInput => ({
  metric: "json-fields",
  useCase: "Extract ingredient names.",
  testExamples: 80,
  strategies,
  fineTuning: { cost: 3, basis: "crafted" },
  currency: "USD",
  tolerance: 0.02,
  expectedRequests: 100_000,
  ...overrides,
});

describe("recommendation", () => {
  it("a baseline that wins produces do not fine-tune", () => {
    const result = recommend(input([summary("zero-shot", 0.5, 0.1, 100), summary("few-shot", 0.9, 0.5, 600), summary("fine-tuned", 0.8, 0.1, 100)]));
    expect(result.verdict).toBe("do-not-fine-tune-yet");
    expect(result.headline).toMatch(/^Do not fine-tune yet: few-shot beats/);
  });

  it("same quality and no payback within the expected volume: do not fine-tune yet", () => {
    // few-shot 0.81 vs fine-tuned 0.80: similar. Saving (0.5 - 0.1) / 1000 = 0.0004 per request
    // -> break-even at 3 / 0.0004 = 7,500 requests; expected only 5,000
    const result = recommend(input([summary("few-shot", 0.81, 0.5, 600), summary("fine-tuned", 0.8, 0.1, 100)], { expectedRequests: 5000 }));
    expect(result.breakEven?.requests).toBe(7500);
    expect(result.breakEven?.against).toBe("few-shot");
    expect(result.verdict).toBe("do-not-fine-tune-yet");
  });

  it("same quality but cheaper requests that pay back in time: fine-tune for cost", () => {
    const result = recommend(input([summary("few-shot", 0.81, 0.5, 600), summary("rag", 0.8, 0.7, 900), summary("fine-tuned", 0.8, 0.1, 100)]));
    // the cheapest similar baseline is few-shot (0.5 per 1000), not RAG
    expect(result.breakEven).toMatchObject({ against: "few-shot", requests: 7500 });
    expect(result.verdict).toBe("fine-tune");
    expect(result.headline).toMatch(/^Fine-tune for cost/);
    expect(result.benefit).toContain("500 fewer");
  });

  it("a clearly better fine-tuned model: fine-tune, break-even against the best baseline", () => {
    const result = recommend(input([summary("zero-shot", 0.2, 0.1, 100, 0.02), summary("few-shot", 0.4, 0.5, 600, 0.02), summary("fine-tuned", 0.9, 0.1, 100, 0.02)]));
    expect(result.verdict).toBe("fine-tune");
    expect(result.headline).toContain("beyond the confidence intervals");
    expect(result.breakEven).toMatchObject({ against: "few-shot", why: "the best baseline (none is as good)", requests: 7500 });
  });

  it("says when intervals overlap, and when it never pays back", () => {
    const result = recommend(input([summary("few-shot", 0.7, 0.1, 600, 0.1), summary("fine-tuned", 0.76, 0.2, 100, 0.1)]));
    expect(result.verdict).toBe("fine-tune");
    expect(result.headline).toContain("intervals overlap");
    expect(result.breakEven?.requests).toBeNull();
    expect(result.cost).toContain("never breaks even");
  });

  it("before training (assess): a near-perfect baseline means do not fine-tune yet", () => {
    expect(recommend(input([summary("zero-shot", 0.99, 0.1, 100)])).verdict).toBe("do-not-fine-tune-yet");
    expect(recommend(input([summary("zero-shot", 0.4, 0.1, 100)])).verdict).toBe("evaluate-fine-tuned");
  });
});
