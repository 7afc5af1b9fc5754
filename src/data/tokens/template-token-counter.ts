import type { ExampleTokenCounter, ExampleTokens } from "../token-counter.js";
import type { LoadedTokenizer } from "./hf-tokenizer.js";
import { countTrained, trainedTokenSpans, type CountableExample, type TokenSpans } from "./trained-token-spans.js";

/**
 * Counts an open model's tokens the way the Python worker trains: the model's own tokenizer and
 * chat template, with the trained-token rule of trained-token-spans.ts.
 */
export class TemplateTokenCounter implements ExampleTokenCounter {
  readonly method: string;
  readonly contextLength: number | null;
  readonly model: LoadedTokenizer;

  constructor(model: LoadedTokenizer) {
    this.model = model;
    this.contextLength = model.contextLength;
    this.method = `${model.description} with its chat template; trained = assistant turns with weight != 0 (same rule as the training worker)`;
  }

  spans(example: CountableExample, line?: number): TokenSpans {
    return trainedTokenSpans(example, this.model, { line });
  }

  count(example: CountableExample, line?: number): ExampleTokens {
    const { ids, spans } = this.spans(example, line);
    return { total: ids.length, trained: countTrained(spans) };
  }
}
