import { get_encoding, type Tiktoken, type TiktokenEncoding } from "tiktoken";
import type { ChatExample, ChatMessage } from "../../spec/dataset.js";
import type { ExampleTokenCounter, ExampleTokens } from "../token-counter.js";
import { cachedPieceCounter } from "./piece-count-cache.js";
import type { CountableExample } from "./trained-token-spans.js";

export type OpenAiEncodingName = "o200k_base" | "cl100k_base";

/**
 * The tiktoken encoding of an OpenAI model name, or null when the name is not an OpenAI chat
 * model. Fine-tuned ids (`ft:gpt-4o-mini-2024-07-18:org:suffix:id`) count by their base model.
 */
export function openAiEncodingFor(model: string): OpenAiEncodingName | null {
  const base = baseModelName(model).toLowerCase();
  if (/^(gpt-4o|gpt-4\.1|gpt-4\.5|gpt-5|chatgpt-4o|o1|o3|o4)(\b|-|$)/.test(base)) return "o200k_base";
  if (/^(gpt-3\.5|gpt-4)(\b|-|$)/.test(base)) return "cl100k_base";
  return null;
}

/** `ft:<base>:<org>:<suffix>:<id>` -> `<base>`; other names unchanged. */
export function baseModelName(model: string): string {
  if (model.startsWith("ft:")) return model.split(":")[1] ?? model;
  return model;
}

const encodings = new Map<OpenAiEncodingName, Tiktoken>();

/** One WASM encoder per encoding for the life of the process (they are bundled; no network). */
function encodingFor(name: OpenAiEncodingName): Tiktoken {
  let encoding = encodings.get(name);
  if (!encoding) {
    encoding = get_encoding(name as TiktokenEncoding);
    encodings.set(name, encoding);
  }
  return encoding;
}

/** The text tiktoken sees for a message value; null for values the rule does not count. */
function valueText(value: unknown): string | null {
  if (typeof value === "string") return value;
  if (value === null || value === undefined || typeof value === "number" || typeof value === "boolean") return null;
  if (Array.isArray(value) && value.every((part) => part !== null && typeof part === "object" && "text" in part)) {
    return value.map((part) => String((part as { text: unknown }).text ?? "")).join("");
  }
  return JSON.stringify(value);
}

const TOKENS_PER_MESSAGE = 3;
const TOKENS_PER_NAME = 1;
const REPLY_PRIMER_TOKENS = 3;

/**
 * OpenAI models counted with tiktoken and the OpenAI cookbook rule (Chat_finetuning_data_prep:
 * num_tokens_from_messages / num_assistant_tokens_from_messages):
 *   total   = sum over messages of (3 + sum over the message's keys of len(encode(value))
 *             + 1 if the key is `name`) + 3 to prime the reply.
 *             Every value is encoded, the role included. Where the cookbook would crash we
 *             decide: `weight` (a number) and null values count 0 tokens, `tool_calls` and other
 *             objects count as their JSON text, content parts as their joined text. `tools`
 *             definitions are not counted (the cookbook does not count them).
 *   trained = sum over assistant messages of len(encode(content)), skipping messages with
 *             weight 0 (the cookbook predates `weight`; without weights the two agree).
 * Special-token text such as `<|endoftext|>` in the data is encoded as ordinary text.
 * Prompt-completion: prompt + completion tokens, completion trained. Text: all tokens trained.
 */
export class TiktokenCounter implements ExampleTokenCounter {
  readonly method: string;
  readonly contextLength: number | null;
  readonly encodingName: OpenAiEncodingName;
  private readonly encoding: Tiktoken;
  private readonly countText: (text: string) => number;

  constructor(encodingName: OpenAiEncodingName, contextLength: number | null = null) {
    this.encodingName = encodingName;
    this.contextLength = contextLength;
    this.encoding = encodingFor(encodingName);
    this.countText = cachedPieceCounter(encodingName, (piece) => this.encoding.encode_ordinary(piece).length);
    this.method = `tiktoken ${encodingName}, OpenAI cookbook rule (3 tokens per message, +1 per name, +3 reply primer; estimate of OpenAI's billed count)`;
  }

  /** Token count of `text` (encode_ordinary), through a per-piece count cache: same counts, faster. */
  encode(text: string): number {
    return this.countText(text);
  }

  /** The same count straight from the WASM encoder, without the cache (for checking the cache). */
  encodeUncached(text: string): number {
    return this.encoding.encode_ordinary(text).length;
  }

  count(example: CountableExample): ExampleTokens {
    if ("messages" in example) {
      return { total: this.countMessages(example), trained: this.countAssistant(example.messages) };
    }
    if ("prompt" in example && "completion" in example) {
      const completion = this.encode(String(example.completion));
      return { total: this.encode(String(example.prompt)) + completion, trained: completion };
    }
    const text = this.encode(String((example as { text: unknown }).text));
    return { total: text, trained: text };
  }

  /** num_tokens_from_messages of the cookbook. */
  countMessages(example: ChatExample): number {
    let total = 0;
    for (const message of example.messages) {
      total += TOKENS_PER_MESSAGE;
      for (const [key, value] of Object.entries(message)) {
        if (key === "weight") continue;
        const text = valueText(value);
        if (text !== null) total += this.encode(text);
        if (key === "name") total += TOKENS_PER_NAME;
      }
    }
    return total + REPLY_PRIMER_TOKENS;
  }

  /** num_assistant_tokens_from_messages of the cookbook (weight-0 turns skipped). */
  countAssistant(messages: ChatMessage[]): number {
    let trained = 0;
    for (const message of messages) {
      if (message.role !== "assistant" || message.weight === 0) continue;
      const text = valueText(message.content);
      if (text !== null) trained += this.encode(text);
    }
    return trained;
  }
}
