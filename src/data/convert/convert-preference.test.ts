import { describe, expect, it } from "vitest";
import { convertPreferenceRecord } from "./convert-preference.js";
import { detectLayout, suggestMap } from "./detect-layout.js";

describe("convertPreferenceRecord", () => {
  it("takes a repeated prompt off the answers and keeps Tunekit's own shape", () => {
    const prompt = [{ role: "user", content: "Q" }];
    const result = convertPreferenceRecord({ prompt, chosen: [...prompt, { role: "assistant", content: "A" }], rejected: [...prompt, { role: "assistant", content: "B" }] });
    expect(result.example).toEqual({
      input: { messages: prompt },
      preferred_output: [{ role: "assistant", content: "A" }],
      non_preferred_output: [{ role: "assistant", content: "B" }],
    });
    const own = { input: { messages: prompt }, preferred_output: [{ role: "assistant", content: "A" }], non_preferred_output: [{ role: "assistant", content: "B" }] };
    expect(convertPreferenceRecord(own).example).toEqual(own);
  });

  it("names the column and the fix: an empty answer, a multi-turn answer, no prompt to share", () => {
    expect(convertPreferenceRecord({ prompt: "Q", chosen: "", rejected: "B" }).problems?.[0]).toMatchObject({ code: "empty_value", column: "chosen" });
    const multi = convertPreferenceRecord({
      prompt: "Q",
      chosen: [
        { role: "assistant", content: "A" },
        { role: "user", content: "more" },
      ],
      rejected: "B",
    });
    expect(multi.problems?.[0]).toMatchObject({ code: "multi_turn_answer", column: "chosen" });
    const noPrompt = convertPreferenceRecord({ chosen: [{ role: "assistant", content: "A" }], rejected: [{ role: "assistant", content: "B" }] });
    expect(noPrompt.problems?.[0]).toMatchObject({ code: "missing_column", column: "prompt" });
  });
});

describe("detectLayout", () => {
  it("most specific first, by the most common layout of the sampled records", () => {
    expect(detectLayout([["conversations", "chosen", "rejected"]])).toBe("preference");
    expect(detectLayout([["id"], ["instruction", "input", "output"], ["instruction", "output"]])).toBe("alpaca");
    expect(detectLayout([["question", "answer"]])).toBeNull();
    expect(suggestMap(["id", "Question", "Best Answer"])).toBe("--map Question=user --map 'Best Answer=assistant'");
  });
});
