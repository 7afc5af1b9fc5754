import { describe, expect, it } from "vitest";
import { TunekitError } from "../core/errors.js";
import { assertVllmInstalled, VllmEngine } from "./vllm-engine.js";

describe("vLLM engine without vLLM", () => {
  it("says vLLM is not installed and what to do instead", () => {
    let error: unknown = null;
    try {
      assertVllmInstalled("vllm-command-that-does-not-exist");
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(TunekitError);
    const problem = error as TunekitError;
    expect(problem.code).toBe("vllm_not_installed");
    expect(problem.kind).toBe("environment");
    expect(problem.fix).toMatch(/pip install vllm/);
    expect(problem.fix).toMatch(/--vllm-url/);
  });

  it("a generate call surfaces the same message instead of hanging", async () => {
    const engine = new VllmEngine({ command: "vllm-command-that-does-not-exist" });
    const answer = engine.generate(
      { id: "m", base: "some/model", adapter: null },
      {
        messages: [{ role: "user", content: "hi" }],
        maxTokens: 4,
        temperature: 0,
        topP: 1,
        seed: null,
        stop: [],
        responseFormat: { type: "text" },
        signal: new AbortController().signal,
      },
      () => {},
    );
    await expect(answer).rejects.toThrow(/vLLM is not installed/);
    await engine.close();
  });
});
