import inferencePrices from "./inference-prices.json" with { type: "json" };
import { openAiEncodingFor } from "../data/tokens/tiktoken-counter.js";
import type { EndpointConfig } from "./chat-client.js";

/** How one strategy's requests are priced, and the price per 1,000 requests. */
export interface RequestCost {
  hosting: "hosted" | "local";
  /** currency per 1,000 requests; null when no price is known */
  per1000Requests: number | null;
  /** how the figure was reached, in words */
  basis: string;
}

export interface TokenPrice {
  input: number;
  output: number;
  source: string;
}

/** Per-token price of a hosted model: the endpoint's own figures, else the shipped table (`ft:` ids use the fine-tuned row). */
export function hostedTokenPrice(model: string, endpoint: EndpointConfig): TokenPrice | null {
  if (endpoint.input_price_per_million !== null && endpoint.output_price_per_million !== null) {
    return { input: endpoint.input_price_per_million, output: endpoint.output_price_per_million, source: "config" };
  }
  const fineTuned = model.startsWith("ft:");
  const base = fineTuned ? (model.split(":")[1] ?? model) : model;
  const row = inferencePrices.models.find((entry) => entry.model === base || entry.aliases.includes(base));
  if (!row) return null;
  return {
    input: endpoint.input_price_per_million ?? (fineTuned ? row.fine_tuned_input : row.input),
    output: endpoint.output_price_per_million ?? (fineTuned ? row.fine_tuned_output : row.output),
    source: `${row.source} (as of ${row.as_of})`,
  };
}

/** `auto`: hosted for an OpenAI model name (or `ft:` id) reached at OpenAI or Azure, local for anything behind another base URL. */
export function resolveHosting(model: string, endpoint: EndpointConfig): "hosted" | "local" {
  if (endpoint.hosting !== "auto") return endpoint.hosting;
  if (endpoint.api === "azure") return "hosted";
  const openAiName = openAiEncodingFor(model) !== null;
  const openAiUrl = endpoint.base_url === null || /(^|\.)openai\.com/u.test(new URL(endpoint.base_url).hostname);
  return openAiName && openAiUrl ? "hosted" : "local";
}

/**
 * Price per 1,000 requests.
 *  - hosted: (mean prompt tokens x input price + mean completion tokens x output price) / 1e6 x 1000;
 *  - local: the machine's hour price x the hours 1,000 requests take at the measured throughput
 *    (wall-clock seconds of the run / requests answered, at the run's concurrency).
 */
export function requestCost(options: {
  model: string;
  endpoint: EndpointConfig;
  meanPromptTokens: number;
  meanCompletionTokens: number;
  secondsPerRequest: number;
  currency?: string;
}): RequestCost {
  const hosting = resolveHosting(options.model, options.endpoint);
  if (hosting === "hosted") {
    const price = hostedTokenPrice(options.model, options.endpoint);
    if (!price) {
      return {
        hosting,
        per1000Requests: null,
        basis: `no token price for \`${options.model}\`: set input_price_per_million and output_price_per_million on its endpoint`,
      };
    }
    const perRequest = (options.meanPromptTokens * price.input + options.meanCompletionTokens * price.output) / 1e6;
    return {
      hosting,
      per1000Requests: perRequest * 1000,
      basis: `${options.meanPromptTokens.toFixed(0)} prompt x ${price.input}/1M + ${options.meanCompletionTokens.toFixed(0)} completion x ${price.output}/1M tokens (${price.source})`,
    };
  }
  const per1000 = ((options.secondsPerRequest * 1000) / 3600) * options.endpoint.hour_price;
  return {
    hosting,
    per1000Requests: per1000,
    basis: `${options.secondsPerRequest.toFixed(3)} s per request measured x ${options.endpoint.hour_price} per machine-hour`,
  };
}

/** The cost of fine-tuning, and how it was reached. */
export interface FineTuningCost {
  cost: number | null;
  basis: string;
  trainingTokens: number | null;
  trainingSeconds: number | null;
}

/**
 * Requests after which fine-tuning has paid for itself against a baseline:
 *   N = ceil(training cost / (baseline cost per request - fine-tuned cost per request)).
 * Null when the fine-tuned model does not cost less per request (it never pays back on cost).
 */
export function breakEvenRequests(trainingCost: number, baselinePer1000: number, fineTunedPer1000: number): number | null {
  const saving = (baselinePer1000 - fineTunedPer1000) / 1000;
  if (!(saving > 0)) return null;
  if (trainingCost <= 0) return 0;
  return Math.ceil(trainingCost / saving - 1e-9);
}

/** p-th percentile (0-100) by linear interpolation between closest ranks. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((left, right) => left - right);
  const position = ((sorted.length - 1) * p) / 100;
  const below = Math.floor(position);
  const weight = position - below;
  return sorted[below]! * (1 - weight) + (sorted[Math.min(below + 1, sorted.length - 1)] ?? sorted[below]!) * weight;
}
