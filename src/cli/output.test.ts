import { describe, expect, it } from "vitest";
import { roundMoney, snakeKeys } from "./output.js";

describe("snakeKeys: the --json key style", () => {
  it("turns the TypeScript side's camelCase fields into snake_case, at every depth", () => {
    expect(snakeKeys({ billedTokens: 3, skipped: { lineNumbers: [1] }, rows: [{ tokenCount: 2 }] })).toEqual({
      billed_tokens: 3,
      skipped: { line_numbers: [1] },
      rows: [{ token_count: 2 }],
    });
  });

  it("keeps the user's own names: metadata keys, column names, model ids, and already snake keys", () => {
    expect(snakeKeys({ metadata: { myTeam: "a" }, mapping: { userQuestion: "user" }, "gpt-4o-mini": 1, has_more: false, Question: 1 })).toEqual({
      metadata: { myTeam: "a" },
      mapping: { userQuestion: "user" },
      "gpt-4o-mini": 1,
      has_more: false,
      Question: 1,
    });
  });

  it("drops undefined fields as JSON.stringify does, and rounds computed money", () => {
    expect(snakeKeys({ a: undefined, totalCost: 0.30000000000000004, costPerRequest: 0.0000342, pricePerMillion: 0.075 })).toEqual({
      total_cost: 0.3,
      cost_per_request: 0.000034,
      price_per_million: 0.075,
    });
  });
});

describe("roundMoney", () => {
  it("rounds to the cent, and an amount under a cent to two significant digits", () => {
    expect(roundMoney(12.345)).toBe(12.35);
    expect(roundMoney(0.0100001)).toBe(0.01);
    expect(roundMoney(0.004449)).toBe(0.0044);
    expect(roundMoney(0)).toBe(0);
    expect(roundMoney(-1.005)).toBe(-1);
  });
});
