import type { ChatExample } from "../spec/dataset.js";

/** Token counts of one example. */
export interface ExampleTokens {
  /** every token of the templated example (what the model reads) */
  total: number;
  /** tokens that would be trained: assistant turns with weight != 0 (completion for prompt-completion) */
  trained: number;
}

/**
 * Counts tokens of chat examples for one model. Implementations: OpenAI models through tiktoken
 * with the cookbook's counting rule; open models through their own tokenizer and chat template.
 */
export interface ExampleTokenCounter {
  /** what is counted and how, stated in every report (e.g. "tiktoken o200k_base, cookbook rule") */
  readonly method: string;
  /** the model's context length in tokens, null when unknown */
  readonly contextLength: number | null;
  count(example: ChatExample): ExampleTokens;
}
