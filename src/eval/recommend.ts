import { breakEvenRequests } from "./cost-model.js";
import type { StrategyName } from "./strategies.js";

/** What the recommendation reads about one strategy. */
export interface StrategySummary {
  strategy: StrategyName;
  /** primary metric: mean and confidence interval */
  score: { mean: number; low: number; high: number };
  per1000Requests: number | null;
  meanPromptTokens: number;
  latencyP50Ms: number;
}

export type Verdict = "fine-tune" | "do-not-fine-tune-yet" | "evaluate-fine-tuned";

export interface BreakEven {
  /** the baseline the fine-tuned model is compared with */
  against: StrategyName;
  /** why that one: "cheapest baseline of similar quality" or "best baseline (none is as good)" */
  why: string;
  trainingCost: number;
  baselinePer1000: number;
  fineTunedPer1000: number;
  /** requests after which fine-tuning has paid for itself; null: never on cost alone */
  requests: number | null;
}

export interface Recommendation {
  verdict: Verdict;
  headline: string;
  /** the four questions, answered from the numbers */
  useCase: string;
  alternatives: string;
  cost: string;
  benefit: string;
  breakEven: BreakEven | null;
}

export interface RecommendationInput {
  metric: string;
  useCase: string;
  testExamples: number;
  strategies: readonly StrategySummary[];
  /** cost of fine-tuning (null: unknown) and how it was reached */
  fineTuning: { cost: number | null; basis: string };
  currency: string;
  tolerance: number;
  expectedRequests: number;
  /** confidence level of the intervals, for the text (default 0.95) */
  confidence?: number;
}

const money = (value: number | null, currency: string) =>
  value === null ? "unknown" : `${currency === "USD" ? "$" : `${currency} `}${value < 0.01 && value > 0 ? value.toPrecision(2) : value.toFixed(2)}`;
const score = (summary: StrategySummary) => `${summary.score.mean.toFixed(3)} (${summary.score.low.toFixed(3)}-${summary.score.high.toFixed(3)})`;

/**
 * The decision, from measured numbers only. With `tolerance` t on the primary metric:
 *  - a baseline better than the fine-tuned model by more than t: do not fine-tune yet;
 *  - the best baseline within t of it (same quality): fine-tune only if the fine-tuned model's
 *    cheaper requests pay back the training within `expectedRequests` (break-even against the
 *    cheapest baseline of that quality), else do not fine-tune yet;
 *  - the fine-tuned model better by more than t: fine-tune (and say when the intervals overlap).
 * Without a fine-tuned result (`tunekit assess`): do not fine-tune yet when a baseline already
 * scores within t of perfect, else evaluate a fine-tuned model.
 */
export function recommend(input: RecommendationInput): Recommendation {
  const baselines = input.strategies.filter((summary) => summary.strategy !== "fine-tuned");
  const fineTuned = input.strategies.find((summary) => summary.strategy === "fine-tuned") ?? null;
  const best = [...baselines].sort((left, right) => right.score.mean - left.score.mean)[0] ?? null;
  const useCase = `${input.useCase} Measured on ${input.testExamples} held-out examples; primary metric \`${input.metric}\` (0-1, higher is better; ${Math.round(100 * (input.confidence ?? 0.95))}% bootstrap intervals in brackets).`;
  const alternatives =
    baselines.length === 0
      ? "No baseline was evaluated."
      : baselines
          .map(
            (summary) =>
              `${summary.strategy}: ${score(summary)}, ${money(summary.per1000Requests, input.currency)} per 1,000 requests, ${summary.meanPromptTokens.toFixed(0)} prompt tokens`,
          )
          .join("; ") + ".";

  if (fineTuned === null || best === null) {
    const nearPerfect = best !== null && best.score.mean >= 1 - input.tolerance;
    return {
      verdict: nearPerfect ? "do-not-fine-tune-yet" : "evaluate-fine-tuned",
      headline: nearPerfect
        ? `Do not fine-tune yet: ${best!.strategy} already scores ${best!.score.mean.toFixed(3)} on \`${input.metric}\`.`
        : `No baseline is near perfect (best: ${best ? `${best.strategy} ${best.score.mean.toFixed(3)}` : "none"}); fine-tuning may pay off: train, then run \`tunekit eval\` to compare.`,
      useCase,
      alternatives,
      cost: `Estimated fine-tuning cost: ${money(input.fineTuning.cost, input.currency)} (${input.fineTuning.basis}).`,
      benefit: "Unknown until a fine-tuned model is evaluated.",
      breakEven: null,
    };
  }

  const gain = fineTuned.score.mean - best.score.mean;
  const similar = baselines.filter((summary) => summary.score.mean >= fineTuned.score.mean - input.tolerance);
  const cheapestSimilar = [...similar].filter((summary) => summary.per1000Requests !== null).sort((left, right) => left.per1000Requests! - right.per1000Requests!)[0];
  const reference = cheapestSimilar ?? best;
  let breakEven: BreakEven | null = null;
  if (input.fineTuning.cost !== null && reference.per1000Requests !== null && fineTuned.per1000Requests !== null) {
    breakEven = {
      against: reference.strategy,
      why: cheapestSimilar ? "the cheapest baseline of similar quality" : "the best baseline (none is as good)",
      trainingCost: input.fineTuning.cost,
      baselinePer1000: reference.per1000Requests,
      fineTunedPer1000: fineTuned.per1000Requests,
      requests: breakEvenRequests(input.fineTuning.cost, reference.per1000Requests, fineTuned.per1000Requests),
    };
  }
  const overlap = fineTuned.score.low <= best.score.high;
  const promptSaving = reference.meanPromptTokens - fineTuned.meanPromptTokens;
  const benefit =
    `Quality: fine-tuned ${score(fineTuned)} vs best baseline ${best.strategy} ${score(best)} (${gain >= 0 ? "+" : ""}${gain.toFixed(3)}). ` +
    `Prompt tokens per request: ${fineTuned.meanPromptTokens.toFixed(0)} vs ${reference.meanPromptTokens.toFixed(0)} with ${reference.strategy} (${promptSaving >= 0 ? `${promptSaving.toFixed(0)} fewer` : `${(-promptSaving).toFixed(0)} more`}). ` +
    `Latency p50: ${fineTuned.latencyP50Ms.toFixed(0)} ms vs ${reference.latencyP50Ms.toFixed(0)} ms.`;
  const cost =
    `Fine-tuning cost ${money(input.fineTuning.cost, input.currency)} (${input.fineTuning.basis}); ` +
    `${money(fineTuned.per1000Requests, input.currency)} per 1,000 requests fine-tuned vs ${money(reference.per1000Requests, input.currency)} with ${reference.strategy}. ` +
    (breakEven === null
      ? "Break-even unknown (a price is missing)."
      : breakEven.requests === null
        ? `It never breaks even on cost against ${reference.strategy}: the fine-tuned model does not cost less per request.`
        : `It breaks even after ${breakEven.requests.toLocaleString("en-US")} requests against ${reference.strategy} (${breakEven.why}).`);

  let verdict: Verdict;
  let headline: string;
  if (gain < -input.tolerance) {
    verdict = "do-not-fine-tune-yet";
    headline = `Do not fine-tune yet: ${best.strategy} beats the fine-tuned model on \`${input.metric}\` (${best.score.mean.toFixed(3)} vs ${fineTuned.score.mean.toFixed(3)}).`;
  } else if (gain <= input.tolerance) {
    const paysBack = breakEven?.requests !== null && breakEven?.requests !== undefined && breakEven.requests <= input.expectedRequests;
    verdict = paysBack ? "fine-tune" : "do-not-fine-tune-yet";
    headline = paysBack
      ? `Fine-tune for cost: same quality as ${reference.strategy} (within ${input.tolerance}), and cheaper requests pay back the training after ${breakEven!.requests!.toLocaleString("en-US")} of your expected ${input.expectedRequests.toLocaleString("en-US")} requests.`
      : `Do not fine-tune yet: ${best.strategy} is as good (${best.score.mean.toFixed(3)} vs ${fineTuned.score.mean.toFixed(3)}, within ${input.tolerance})` +
        (breakEven?.requests != null
          ? ` and the training only pays back after ${breakEven.requests.toLocaleString("en-US")} requests, more than the expected ${input.expectedRequests.toLocaleString("en-US")}.`
          : " and fine-tuning does not pay back on cost.");
  } else {
    verdict = "fine-tune";
    headline =
      `Fine-tune: the fine-tuned model beats the best baseline (${best.strategy}) by ${gain.toFixed(3)} on \`${input.metric}\`` +
      (overlap ? "; the intervals overlap, so confirm on more test examples." : ", beyond the confidence intervals.");
  }
  return { verdict, headline, useCase, alternatives, cost, benefit, breakEven };
}
