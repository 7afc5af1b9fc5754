import type { ExampleTokenCounter } from "../token-counter.js";

/**
 * Loads the token counter of `model` through the token toolkit (src/data/tokens). Imported lazily
 * so that validating without --model never loads a tokenizer.
 */
export async function loadCounter(model: string): Promise<ExampleTokenCounter> {
  // the specifier is a variable so this module compiles before src/data/tokens lands
  const specifier = "../tokens/load-token-counter.js";
  const tokens = (await import(specifier)) as { loadTokenCounter(model: string): Promise<ExampleTokenCounter> };
  return tokens.loadTokenCounter(model);
}
