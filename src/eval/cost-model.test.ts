import { describe, expect, it } from "vitest";
import { defaultConfig } from "../core/config-schema.js";
import { breakEvenRequests, hostedTokenPrice, percentile, requestCost, resolveHosting } from "./cost-model.js";

const endpoint = defaultConfig().eval.base;

describe("break-even", () => {
  it("divides the training cost by the saving per request", () => {
    // training $3.00; baseline $0.50 / 1000 requests, fine-tuned $0.20 / 1000: saving $0.0003 per request
    expect(breakEvenRequests(3, 0.5, 0.2)).toBe(10_000);
    // $1.00 / ($0.0004 - $0.0001) = 3333.33 -> 3334 requests
    expect(breakEvenRequests(1, 0.4, 0.1)).toBe(3334);
    // at the break-even point both cost $5.00 in total: 10 x $0.50, or $3.00 of training + 10 x $0.20
    const totalAfter = (requests: number, per1000: number, upfront = 0) => upfront + (requests / 1000) * per1000;
    expect(totalAfter(10_000, 0.5)).toBeCloseTo(totalAfter(10_000, 0.2, 3), 10);
  });

  it("never breaks even when the fine-tuned model costs as much or more per request", () => {
    expect(breakEvenRequests(3, 0.2, 0.2)).toBeNull();
    expect(breakEvenRequests(3, 0.1, 0.2)).toBeNull();
    expect(breakEvenRequests(0, 0.3, 0.2)).toBe(0);
  });
});

describe("price per 1,000 requests", () => {
  it("prices hosted models per token", () => {
    // gpt-4o-mini: 0.15 in, 0.60 out per 1M; 1000 prompt + 100 completion tokens:
    // (1000 x 0.15 + 100 x 0.6) / 1e6 = 0.00021 per request -> 0.21 per 1000
    const cost = requestCost({ model: "gpt-4o-mini", endpoint, meanPromptTokens: 1000, meanCompletionTokens: 100, secondsPerRequest: 1 });
    expect(cost.hosting).toBe("hosted");
    expect(cost.per1000Requests).toBeCloseTo(0.21, 12);
    expect(hostedTokenPrice("ft:gpt-4o-mini-2024-07-18:acme:recipes:abc", endpoint)).toMatchObject({ input: 0.3, output: 1.2 });
  });

  it("prices local models by measured time x hour price", () => {
    const local = { ...endpoint, base_url: "http://127.0.0.1:8000/v1", hour_price: 2 };
    expect(resolveHosting("gpt-4o-mini", local)).toBe("local");
    // 0.9 s per request: 1000 requests = 900 s = 0.25 h x 2 = 0.5
    const cost = requestCost({ model: "smollm2", endpoint: local, meanPromptTokens: 100, meanCompletionTokens: 10, secondsPerRequest: 0.9 });
    expect(cost.per1000Requests).toBeCloseTo(0.5, 12);
  });

  it("computes latency percentiles by interpolation", () => {
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 50)).toBeCloseTo(5.5, 12);
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 95)).toBeCloseTo(9.55, 12);
    expect(percentile([4], 95)).toBe(4);
  });
});
