/**
 * Tokens a hosted provider bills for one epoch: every example counts at most `cap` tokens
 * (longer examples are truncated to the max training context). The cookbook's
 * n_billing_tokens_in_dataset = sum(min(MAX_TOKENS_PER_EXAMPLE, length)).
 */
export function billedTokensPerEpoch(tokensPerExample: readonly number[], cap: number | null): number {
  let sum = 0;
  for (const tokens of tokensPerExample) sum += cap === null ? tokens : Math.min(cap, tokens);
  return sum;
}

/** Billed tokens for the whole job: epochs x billed tokens per epoch. */
export function billedTokens(tokensPerExample: readonly number[], cap: number | null, epochs: number): number {
  return epochs * billedTokensPerEpoch(tokensPerExample, cap);
}

/** Price of `tokens` at `pricePerMillion`. */
export function trainingCost(tokens: number, pricePerMillion: number): number {
  return (tokens / 1_000_000) * pricePerMillion;
}
