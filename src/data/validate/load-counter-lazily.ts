import type { ExampleTokenCounter } from "../token-counter.js";

/**
 * The token toolkit is imported only when --model asks for counts: validating alone loads no
 * tokenizer. A module of its own so the validation worker threads import only this, not the
 * readers of every format (each thread pays for what it imports).
 */
export async function loadCounterLazily(model: string): Promise<ExampleTokenCounter> {
  const { loadTokenCounter } = await import("../tokens/load-token-counter.js");
  return loadTokenCounter(model);
}
