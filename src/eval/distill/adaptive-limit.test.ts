import { describe, expect, it } from "vitest";
import { AdaptiveLimit } from "./adaptive-limit.js";
import { retryAfterFromHeaders } from "./teacher-client.js";

describe("AdaptiveLimit", () => {
  it("starts at one and grows with every answer until the first 429", async () => {
    const limit = new AdaptiveLimit(4);
    expect(limit.limit).toBe(1);
    await limit.acquire();
    let second = false;
    void limit.acquire().then(() => (second = true));
    await Promise.resolve();
    expect(second).toBe(false);
    limit.release("answered");
    expect(limit.limit).toBe(2);
    await Promise.resolve();
    expect(second).toBe(true);
    for (let round = 0; round < 5; round++) {
      limit.release("answered");
      await limit.acquire();
    }
    expect(limit.limit).toBe(4);
  });

  it("drops to what the teacher took when a request is refused, and probes up again after 4 x limit answers and the Retry-After", async () => {
    const limit = new AdaptiveLimit(8);
    await limit.acquire();
    for (let index = 0; index < 7; index++) {
      limit.release("answered");
      await limit.acquire();
      await limit.acquire();
    }
    expect(limit.limit).toBe(8);
    expect(limit.inFlight).toBe(8);
    // the teacher took 2: the other 6 come back 429, asking for 2 s
    for (let index = 0; index < 6; index++) limit.release("rate_limited", 2000, 0);
    expect(limit.limit).toBe(2);
    expect(limit.lowest).toBe(2);
    // 4 x limit answers, but within the Retry-After: no probe yet
    for (let round = 0; round < 8; round++) {
      limit.release("answered", null, 1000);
      await limit.acquire();
    }
    expect(limit.limit).toBe(2);
    limit.release("answered", null, 2001);
    await limit.acquire();
    expect(limit.limit).toBe(3);
    await limit.acquire();
    expect(limit.inFlight).toBe(3);
    let fourth = false;
    void limit.acquire().then(() => (fourth = true));
    await Promise.resolve();
    expect(fourth).toBe(false);
    limit.release("other");
    await Promise.resolve();
    expect(fourth).toBe(true);
  });

  it("never goes below one", () => {
    const limit = new AdaptiveLimit(1);
    void limit.acquire();
    limit.release("rate_limited");
    expect(limit.limit).toBe(1);
  });
});

describe("retryAfterFromHeaders", () => {
  it("reads retry-after-ms, Retry-After seconds and an HTTP date", () => {
    expect(retryAfterFromHeaders(new Headers({ "retry-after-ms": "250", "retry-after": "9" }))).toBe(250);
    expect(retryAfterFromHeaders(new Headers({ "retry-after": "2" }))).toBe(2000);
    const now = Date.parse("2025-06-01T10:00:00Z");
    expect(retryAfterFromHeaders(new Headers({ "retry-after": "Sun, 01 Jun 2025 10:00:05 GMT" }), now)).toBe(5000);
    expect(retryAfterFromHeaders(new Headers({ "retry-after": "Sun, 01 Jun 2025 09:00:00 GMT" }), now)).toBe(0);
    expect(retryAfterFromHeaders(new Headers({ "retry-after": "soon" }))).toBeNull();
    expect(retryAfterFromHeaders(new Headers())).toBeNull();
  });
});
