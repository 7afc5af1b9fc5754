import type { ExampleTokenCounter } from "../token-counter.js";
import { withPieceCache } from "./piece-cache.js";

/**
 * Loads the token counter of `model` through the token toolkit (src/data/tokens), imported lazily
 * so that validating without --model never loads a tokenizer. tiktoken counters get a per-piece
 * count cache (same counts, several times faster; see piece-cache.ts).
 */
export async function loadCounter(model: string): Promise<ExampleTokenCounter> {
  const { loadTokenCounter } = await import("../tokens/load-token-counter.js");
  return withPieceCache(await loadTokenCounter(model));
}
