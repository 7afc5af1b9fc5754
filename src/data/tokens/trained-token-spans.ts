import { TunekitError } from "../../core/errors.js";
import type { ChatExample, ChatMessage, PromptCompletionExample, TextExample } from "../../spec/dataset.js";
import type { ChatTemplate } from "./chat-template.js";

/** Turns text into token ids without adding special tokens (special tokens written in the text still match). */
export interface TextTokenizer {
  encode(text: string): number[];
  /** id appended after prompt-completion and text examples; null when the tokenizer has none */
  readonly eosTokenId: number | null;
}

/** A tokenizer with the chat template that goes with it (null when the model has none). */
export interface TemplatedTokenizer {
  readonly tokenizer: TextTokenizer;
  readonly chatTemplate: ChatTemplate | null;
}

/** An example the counters accept: chat, prompt-completion or text. */
export type CountableExample = ChatExample | PromptCompletionExample | TextExample;

/** Token ids of one example and the half-open `[start, end)` ranges of trained tokens. */
export interface TokenSpans {
  ids: number[];
  spans: Array<[number, number]>;
}

export interface TrainedTokenSpansOptions {
  /** 1-based line of the example, named in errors */
  line?: number;
}

/**
 * The trained-token rule. The Python worker implements the same rule; both sides must agree
 * token for token, so change neither without the other.
 *
 * Chat examples, with template T rendered like transformers' apply_chat_template (variables
 * `messages`, `tools` when the example has a non-empty list, `add_generation_prompt`,
 * `bos_token`/`eos_token`, helper `raise_exception`), and tokenize() adding no special tokens.
 * The template sees the messages normalized: no `weight` key, content given as a list of parts
 * joined into one string (text parts only).
 *   full  = T(messages, add_generation_prompt=false); ids = tokenize(full); total = len(ids)
 *   for each i with messages[i].role == "assistant" and weight != 0:
 *     prompt  = tokenize(T(messages[:i],   add_generation_prompt=true));  start = len(prompt)
 *     through = tokenize(T(messages[:i+1], add_generation_prompt=false)); end   = len(through)
 *     ids[start:end] are trained; trained = the number of trained positions.
 *   Both `prompt` and `through` must equal the start of ids (the token-prefix property), except
 *   that the last token of a prefix may differ (a BPE merge across the boundary, e.g. a reply that
 *   starts with spaces merges with the template's newline): then the boundary is the common-prefix
 *   length. A larger difference means the template rewrites earlier turns: error.
 * Prompt-completion (no template): ids = tokenize(prompt) + tokenize(completion) + [eos];
 *   trained = the completion and the eos.
 * Text: ids = tokenize(text) + [eos]; every token trained.
 */
export function trainedTokenSpans(example: CountableExample, model: TemplatedTokenizer, options: TrainedTokenSpansOptions = {}): TokenSpans {
  const { tokenizer } = model;
  const eos = tokenizer.eosTokenId === null ? [] : [tokenizer.eosTokenId];
  if ("messages" in example) return chatSpans(example, model, options);
  if ("prompt" in example && "completion" in example) {
    const prompt = tokenizer.encode(String(example.prompt));
    const completion = tokenizer.encode(String(example.completion));
    const ids = [...prompt, ...completion, ...eos];
    return { ids, spans: [[prompt.length, ids.length]] };
  }
  if ("text" in example) {
    const ids = [...tokenizer.encode(String(example.text)), ...eos];
    return { ids, spans: [[0, ids.length]] };
  }
  throw new TunekitError(`${where(options)}the example is neither chat, prompt-completion nor text`, {
    kind: "data",
    code: "unknown_format",
    line: options.line,
    fix: "Run `tunekit data validate` to see what the example is missing.",
  });
}

function chatSpans(example: ChatExample, model: TemplatedTokenizer, options: TrainedTokenSpansOptions): TokenSpans {
  const template = model.chatTemplate;
  if (template === null) {
    throw new TunekitError("The model has no chat template, so chat examples cannot be tokenized", {
      kind: "config",
      code: "missing_chat_template",
      field: "data.chat_template",
      fix: "Set `data.chat_template` in tunekit.yaml (or pass --chat-template FILE) to the Jinja template the model was trained with.",
    });
  }
  const original: ChatMessage[] = example.messages;
  const messages = normalizeMessages(original);
  const tools = example.tools && example.tools.length > 0 ? example.tools : null;
  // Renders often repeat (the conversation through its last turn is the full conversation), so
  // tokenize each distinct text once.
  const encoded = new Map<string, number[]>();
  const render = (upTo: number, addGenerationPrompt: boolean): number[] =>
    withLine(options, () => {
      const text = template.render({ messages: messages.slice(0, upTo), tools, addGenerationPrompt });
      let ids = encoded.get(text);
      if (ids === undefined) {
        ids = model.tokenizer.encode(text);
        encoded.set(text, ids);
      }
      return ids;
    });

  const ids = render(messages.length, false);
  const spans: Array<[number, number]> = [];
  original.forEach((message, index) => {
    if (message.role !== "assistant" || message.weight === 0) return;
    const prompt = render(index, true);
    const through = render(index + 1, false);
    const start = boundary(prompt, ids, options, `the prompt before assistant message ${index + 1}`);
    const end = boundary(through, ids, options, `the conversation through assistant message ${index + 1}`);
    spans.push([start, Math.max(start, end)]);
  });
  return { ids, spans };
}

/** Where `prefix` ends inside `ids` (see the rule above); throws when more than its last token differs. */
function boundary(prefix: number[], ids: number[], options: TrainedTokenSpansOptions, label: string): number {
  let common = 0;
  const limit = Math.min(prefix.length, ids.length);
  while (common < limit && prefix[common] === ids[common]) common++;
  if (common >= prefix.length - 1) return common;
  throw new TunekitError(
    `${where(options)}the chat template renders ${label} differently from the full conversation (its tokens are not a prefix), so its trained tokens cannot be located`,
    {
      kind: "data",
      code: "template_prefix_mismatch",
      line: options.line,
      fix: "Use a chat template that only appends turns (set `data.chat_template`).",
    },
  );
}

function where(options: TrainedTokenSpansOptions): string {
  return options.line === undefined ? "" : `line ${options.line}: `;
}

function withLine<T>(options: TrainedTokenSpansOptions, run: () => T): T {
  try {
    return run();
  } catch (error) {
    if (error instanceof TunekitError && options.line !== undefined && error.line === undefined) {
      throw new TunekitError(`line ${options.line}: ${error.message}`, {
        kind: error.kind,
        code: error.code,
        field: error.field,
        line: options.line,
        fix: error.fix,
        cause: error,
      });
    }
    throw error;
  }
}

/** Messages as the template sees them (same as the worker): no `weight`, content parts joined (text parts only). */
export function normalizeMessages(messages: readonly ChatMessage[]): Array<Record<string, unknown>> {
  return messages.map((message) => {
    const { weight: _weight, ...rest } = message;
    const copy: Record<string, unknown> = { ...rest };
    if (Array.isArray(copy.content)) {
      copy.content = (copy.content as Array<{ type?: unknown; text?: unknown }>)
        .filter((part) => part !== null && typeof part === "object" && part.type === "text")
        .map((part) => (typeof part.text === "string" ? part.text : ""))
        .join("");
    }
    return copy;
  });
}

/** Number of trained positions (the union of the spans, as the worker's trained mask counts them). */
export function countTrained(spans: Array<[number, number]>): number {
  const sorted = [...spans].sort((a, b) => a[0] - b[0]);
  let count = 0;
  let reached = -Infinity;
  for (const [start, end] of sorted) {
    const from = Math.max(start, reached);
    if (end > from) count += end - from;
    reached = Math.max(reached, end);
  }
  return count;
}
