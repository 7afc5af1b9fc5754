import type { ChatModel } from "./chat-client.js";
import type { EvalExample } from "./eval-example.js";
import { jsonFields, jsonValid, type ArrayMatch } from "./metrics/json-metrics.js";
import { judgeAnswer } from "./metrics/llm-judge.js";
import { regexMatch } from "./metrics/regex-match.js";
import { exactMatch, normalizedMatch, rougeL, tokenF1 } from "./metrics/text-metrics.js";

export type MetricName = "exact-match" | "normalized-match" | "token-f1" | "rouge-l" | "json-valid" | "json-fields" | "regex" | "llm-judge";

export const METRIC_DESCRIPTIONS: Record<MetricName, string> = {
  "exact-match": "answer equals the reference (surrounding whitespace ignored)",
  "normalized-match": "equal after lowercasing and dropping punctuation, articles and extra spaces (SQuAD)",
  "token-f1": "F1 of normalised word overlap with the reference (SQuAD)",
  "rouge-l": "ROUGE-L F1: longest common word subsequence with the reference",
  "json-valid": "the answer parses as JSON",
  "json-fields": "per-field accuracy against the JSON reference (arrays: set or sequence F1)",
  regex: "the answer matches `eval.regex`",
  "llm-judge": "judge model's 1-5 score against the rubric and reference, scaled to 0-1",
};

export interface ScoringContext {
  arrayMatch: ArrayMatch;
  pattern: RegExp | null;
  judge: { model: ChatModel; rubric: string } | null;
}

/** Scores of one answer for every configured metric; null where a metric does not apply (or the judge gave no score). */
export async function scoreAnswer(metrics: readonly MetricName[], answer: string, example: EvalExample, context: ScoringContext): Promise<Record<string, number | null>> {
  const scores: Record<string, number | null> = {};
  for (const metric of metrics) {
    switch (metric) {
      case "exact-match":
        scores[metric] = exactMatch(answer, example.reference);
        break;
      case "normalized-match":
        scores[metric] = normalizedMatch(answer, example.reference);
        break;
      case "token-f1":
        scores[metric] = tokenF1(answer, example.reference);
        break;
      case "rouge-l":
        scores[metric] = rougeL(answer, example.reference);
        break;
      case "json-valid":
        scores[metric] = jsonValid(answer);
        break;
      case "json-fields":
        scores[metric] = jsonFields(answer, example.reference, context.arrayMatch);
        break;
      case "regex":
        scores[metric] = context.pattern ? regexMatch(answer, context.pattern) : null;
        break;
      case "llm-judge":
        scores[metric] = context.judge ? (await judgeAnswer(context.judge.model, context.judge.rubric, example.input, example.reference, answer)).score : null;
        break;
    }
  }
  return scores;
}
