import { describe, expect, it } from "vitest";
import { judgeMessages, parseJudgeScore } from "./llm-judge.js";

describe("LLM-as-judge", () => {
  it("normalises the 1-5 score to 0-1", () => {
    expect(parseJudgeScore('{"score": 5, "reason": "same"}')).toBe(1);
    expect(parseJudgeScore('Sure! {"score": "3", "reason": "partly"}')).toBe(0.5);
    expect(parseJudgeScore("Score: 2 - mostly wrong")).toBe(0.25);
    expect(parseJudgeScore("1")).toBe(0);
    expect(parseJudgeScore('{"score": 9}')).toBeNull();
    expect(parseJudgeScore("no idea")).toBeNull();
  });

  it("states the rubric, the reference and the answer", () => {
    const [system, user] = judgeMessages("Valid JSON array of names.", "1 c. sugar", '["sugar"]', '["white sugar"]');
    if (!system || !user) throw new Error("judgeMessages must return a system and a user message");
    expect(system.content).toContain('"score"');
    expect(user.content).toContain("Rubric: Valid JSON array of names.");
    expect(user.content).toContain('[Reference answer]\n["sugar"]');
    expect(user.content).toContain('[Candidate answer]\n["white sugar"]');
  });
});
