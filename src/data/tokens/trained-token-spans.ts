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
 * `messages`, `tools` when present, `add_generation_prompt`, `bos_token`/`eos_token`, helper
 * `raise_exception`), and tokenize() adding no special tokens:
 *   full  = T(messages, add_generation_prompt=false); ids = tokenize(full); total = len(ids)
 *   for each i with messages[i].role == "assistant" and weight != 0:
 *     start = len(tokenize(T(messages[:i],   add_generation_prompt=true)))
 *     end   = len(tokenize(T(messages[:i+1], add_generation_prompt=false)))
 *     trained span [start, end)   (trained += end - start)
 *   The prefix must tokenize to exactly ids[:start] (the token-prefix property); when it does
 *   not, the template rewrites earlier turns and the rule cannot place the span: error.
 * Prompt-completion (no template): ids = tokenize(prompt) + tokenize(completion) + [eos];
 *   trained = the completion and the eos.
 * Text: ids = tokenize(text) + [eos]; every token trained.
 */
export function trainedTokenSpans(
  example: CountableExample,
  model: TemplatedTokenizer,
  options: TrainedTokenSpansOptions = {},
): TokenSpans {
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
  const messages: ChatMessage[] = example.messages;
  const tools = example.tools ?? null;
  const render = (upTo: number, addGenerationPrompt: boolean): number[] =>
    withLine(options, () =>
      model.tokenizer.encode(template.render({ messages: messages.slice(0, upTo), tools, addGenerationPrompt })),
    );

  const ids = render(messages.length, false);
  const spans: Array<[number, number]> = [];
  messages.forEach((message, index) => {
    if (message.role !== "assistant" || message.weight === 0) return;
    const prefix = render(index, true);
    const start = prefix.length;
    if (start > ids.length || prefix.some((id, position) => id !== ids[position])) {
      throw new TunekitError(
        `${where(options)}the chat template does not render message ${index} (assistant) as a continuation of the messages before it, so its trained tokens cannot be located`,
        {
          kind: "data",
          code: "template_prefix_mismatch",
          line: options.line,
          fix: "Use a chat template that renders earlier turns the same way whatever follows them (set `data.chat_template`), or split this conversation so the assistant turn to train is the last one.",
        },
      );
    }
    const end = render(index + 1, false).length;
    spans.push([start, Math.max(start, end)]);
  });
  return { ids, spans };
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

/** Number of trained tokens in a set of spans. */
export function countTrained(spans: Array<[number, number]>): number {
  return spans.reduce((sum, [start, end]) => sum + (end - start), 0);
}
