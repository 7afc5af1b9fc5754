import type { ModelInfo, TrainingEstimateView } from "../../../spec/tunekit-wire.js";

/** A base model the Tunekit server offers, with the server's estimate for this job's data on it. */
export interface ModelCandidate {
  model: ModelInfo;
  /** null when the server could not estimate (the reason is in `error`) */
  estimate: TrainingEstimateView | null;
  error?: string;
}

export interface CandidateRow {
  model: string;
  parameters: number | null;
  contextLength: number | null;
  trainedSeqLen: number | null;
  truncatedExamples: number | null;
  fitsMemory: boolean | null;
  seconds: number | null;
  eligible: boolean;
  reason: string;
}

export interface BaseModelProposal {
  model: string;
  reason: string;
  candidates: CandidateRow[];
}

function size(parameters: number | null): string {
  if (parameters === null) return "unknown size";
  if (parameters >= 1e9) return `${(parameters / 1e9).toFixed(1)}B parameters`;
  if (parameters >= 1e6) return `${(parameters / 1e6).toFixed(0)}M parameters`;
  return `${(parameters / 1e3).toFixed(0)}K parameters`;
}

function describe(candidate: ModelCandidate): CandidateRow {
  const { model, estimate } = candidate;
  const base = { model: model.id, parameters: model.parameters, contextLength: model.context_length };
  if (estimate === null) {
    return {
      ...base,
      trainedSeqLen: null,
      truncatedExamples: null,
      fitsMemory: null,
      seconds: null,
      eligible: false,
      reason: `the server cannot train it on this data: ${candidate.error ?? "no estimate"}`,
    };
  }
  const truncated = estimate.tokens.truncated_examples;
  const fits = estimate.memory.fits;
  const context = model.context_length === null ? "context unknown" : `context ${model.context_length.toLocaleString("en-US")} tokens`;
  const data =
    truncated === 0
      ? `every example fits its ${estimate.tokens.max_seq_len.toLocaleString("en-US")}-token training window`
      : `${truncated} of ${estimate.examples} example(s) are longer than its ${estimate.tokens.max_seq_len.toLocaleString("en-US")}-token training window and would be cut`;
  const memory = fits ? "fits memory" : `does not fit memory (${estimate.memory.basis})`;
  return {
    ...base,
    trainedSeqLen: estimate.tokens.max_seq_len,
    truncatedExamples: truncated,
    fitsMemory: fits,
    seconds: estimate.time.seconds,
    eligible: fits,
    reason: `${size(model.parameters)}, ${context}; ${data}; ${memory}`,
  };
}

/**
 * The open base model to replace a hosted one: among the server's models that fit memory, the
 * ones whose context holds every example first, then the largest (parameters are the best
 * offline proxy for quality, and the hosted models being replaced are far larger than any of
 * these). Returns null when none can train on the data.
 */
export function proposeBaseModel(candidates: readonly ModelCandidate[], replacing: string): BaseModelProposal | null {
  const rows = candidates.map(describe);
  const ranked = rows
    .filter((row) => row.eligible)
    .sort((a, b) => Number(a.truncatedExamples !== 0) - Number(b.truncatedExamples !== 0) || (b.parameters ?? 0) - (a.parameters ?? 0) || a.model.localeCompare(b.model));
  const best = ranked[0];
  if (!best) return null;
  const others = ranked.length > 1 ? `; the largest of ${ranked.length} models that fit` : "; the only model on the server that fits";
  return { model: best.model, reason: `replaces ${replacing}: ${best.reason}${others}`, candidates: rows };
}
