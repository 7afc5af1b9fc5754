import type { ChatModel } from "../chat-client.js";

/** The judge's instructions: the rubric, a 1-5 scale and a JSON answer (after MT-Bench/G-Eval style single grading). */
export function judgeMessages(rubric: string, input: string, reference: string, answer: string) {
  return [
    {
      role: "system" as const,
      content:
        "You grade answers to a task. Compare the candidate answer with the reference answer using the rubric. " +
        'Reply with JSON only: {"score": <integer 1-5>, "reason": "<one sentence>"}. ' +
        "5 = fully meets the rubric, 4 = meets it with a minor slip, 3 = partly, 2 = mostly not, 1 = wrong or unusable.",
    },
    {
      role: "user" as const,
      content: `Rubric: ${rubric}\n\n[Task input]\n${input}\n\n[Reference answer]\n${reference}\n\n[Candidate answer]\n${answer}`,
    },
  ];
}

/**
 * Read the judge's score: the `score` of a JSON object, else the first integer 1-5 after
 * "score", else the first lone digit 1-5. Normalised to [0, 1] as (score - 1) / 4; null when
 * the judge's reply holds no score.
 */
export function parseJudgeScore(reply: string): number | null {
  let score: number | null = null;
  const object = /\{[\s\S]*\}/u.exec(reply);
  if (object) {
    try {
      const parsed = JSON.parse(object[0]) as { score?: unknown };
      if (typeof parsed.score === "number") score = parsed.score;
      else if (typeof parsed.score === "string" && /^\s*[1-5]\s*$/u.test(parsed.score)) score = Number(parsed.score);
    } catch {
      // fall through to the text rules
    }
  }
  if (score === null) {
    const named = /score\W{0,5}([1-5])\b/iu.exec(reply) ?? /(?<![\d.])([1-5])(?![\d.])/u.exec(reply);
    if (named) score = Number(named[1]);
  }
  if (score === null || !Number.isFinite(score) || score < 1 || score > 5) return null;
  return (score - 1) / 4;
}

export async function judgeAnswer(judge: ChatModel, rubric: string, input: string, reference: string, answer: string): Promise<{ score: number | null; reply: string }> {
  const reply = await judge.complete(judgeMessages(rubric, input, reference, answer), { maxTokens: 128, temperature: 0 });
  return { score: parseJudgeScore(reply.text), reply: reply.text };
}
