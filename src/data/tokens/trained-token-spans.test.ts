import { describe, expect, it } from "vitest";
import { TunekitError } from "../../core/errors.js";
import { ChatTemplate } from "./chat-template.js";
import { HuggingFaceTextTokenizer, type LoadedTokenizer } from "./hf-tokenizer.js";
import { TemplateTokenCounter } from "./template-token-counter.js";
import { countTrained, normalizeMessages, trainedTokenSpans } from "./trained-token-spans.js";

// A word-level tokenizer (every whitespace-separated word is one token) makes every count
// below checkable by hand.
const words = ["[UNK]", "be", "brief", "hello", "there", "hi", "how", "are", "you", "fine", "thanks", "2", "+", "=", "4", "tools:"];
const specials = ["<|system|>", "<|user|>", "<|assistant|>", "<|end|>", "</s>", "<|last|>"];
function wordTokenizer(): HuggingFaceTextTokenizer {
  const vocab: Record<string, number> = {};
  [...words, ...specials].forEach((word, index) => (vocab[word] = index));
  const json = {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: specials.map((content) => ({
      id: vocab[content],
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    })),
    normalizer: null,
    pre_tokenizer: { type: "WhitespaceSplit" },
    post_processor: null,
    decoder: null,
    model: { type: "WordPiece", unk_token: "[UNK]", continuing_subword_prefix: "##", max_input_chars_per_word: 100, vocab },
  };
  return new HuggingFaceTextTokenizer(json, {}, "</s>");
}

const simpleTemplate = "{% for m in messages %}<|{{ m.role }}|> {{ m.content }} <|end|> {% endfor %}{% if add_generation_prompt %}<|assistant|> {% endif %}";

function model(template: string | null = simpleTemplate): LoadedTokenizer {
  return {
    tokenizer: wordTokenizer(),
    chatTemplate: template === null ? null : new ChatTemplate(template, { eos_token: "</s>" }),
    contextLength: 64,
    description: "word tokenizer",
  };
}

const conversation = {
  messages: [
    { role: "system" as const, content: "be brief" },
    { role: "user" as const, content: "hello there" },
    { role: "assistant" as const, content: "hi" },
    { role: "user" as const, content: "how are you" },
    { role: "assistant" as const, content: "fine thanks" },
  ],
};

describe("trainedTokenSpans", () => {
  it("counts every templated token and trains each assistant turn from after the generation prompt to its end", () => {
    // system 1+2+1, user 1+2+1, assistant 1+1+1, user 1+3+1, assistant 1+2+1 = 20 tokens.
    // Turn 2 starts after "<|assistant|>" of the generation prompt (4+4+1 = 9) and ends at 11;
    // turn 4 starts at 4+4+3+5+1 = 17 and ends at 20.
    const { ids, spans } = trainedTokenSpans(conversation, model());
    expect(ids).toHaveLength(20);
    expect(spans).toEqual([
      [9, 11],
      [17, 20],
    ]);
    expect(countTrained(spans)).toBe(5);
    expect(ids.slice(9, 11)).toEqual([words.indexOf("hi"), words.length + specials.indexOf("<|end|>")]);
  });

  it("leaves assistant turns with weight 0 untrained", () => {
    const weighted = { messages: conversation.messages.map((message, index) => (index === 2 ? { ...message, weight: 0 as const } : message)) };
    const counter = new TemplateTokenCounter(model());
    expect(counter.count(weighted)).toEqual({ total: 20, trained: 3 });
    expect(counter.count(conversation)).toEqual({ total: 20, trained: 5 });
  });

  it("shows the template messages without `weight` and with content parts joined, like the worker", () => {
    expect(normalizeMessages([{ role: "assistant", content: "hi", weight: 1 }])).toEqual([{ role: "assistant", content: "hi" }]);
    const parts = {
      messages: [
        { role: "user" as const, content: [{ type: "text", text: "hello " }, { type: "image_url" }, { type: "text", text: "there" }] },
        { role: "assistant" as const, content: "hi" },
      ],
    };
    const plain = {
      messages: [
        { role: "user" as const, content: "hello there" },
        { role: "assistant" as const, content: "hi" },
      ],
    };
    expect(trainedTokenSpans(parts, model())).toEqual(trainedTokenSpans(plain, model()));
    const showsWeight = "{% for m in messages %}{% if m.weight is defined %}<|last|> {% endif %}<|{{ m.role }}|> {{ m.content }} <|end|> {% endfor %}";
    expect(trainedTokenSpans({ messages: [{ role: "assistant", content: "hi", weight: 1 }] }, model(showsWeight)).ids).toHaveLength(3);
  });

  it("counts trained positions once where spans overlap", () => {
    expect(
      countTrained([
        [2, 5],
        [4, 8],
        [10, 11],
      ]),
    ).toBe(7);
    expect(countTrained([])).toBe(0);
  });

  it("passes tools to the template only when the example has them", () => {
    const template = "{% if tools %}tools: {% for t in tools %}{{ t.name }} {% endfor %}{% endif %}" + simpleTemplate;
    const withTools = { ...conversation, tools: [{ name: "hi" }, { name: "you" }] };
    expect(trainedTokenSpans(withTools, model(template)).ids).toHaveLength(23);
    expect(trainedTokenSpans(conversation, model(template)).ids).toHaveLength(20);
  });

  it("prompt-completion: prompt + completion + eos, the completion and eos trained", () => {
    const { ids, spans } = trainedTokenSpans({ prompt: "2 + 2 =", completion: "4" }, model(null));
    expect(ids).toEqual([11, 12, 11, 13, 14, words.length + specials.indexOf("</s>")]);
    expect(spans).toEqual([[4, 6]]);
  });

  it("text: every token and the eos trained", () => {
    expect(trainedTokenSpans({ text: "hello there you" }, model(null))).toEqual({ ids: [3, 4, 8, words.length + 4], spans: [[0, 4]] });
  });

  it("rejects a template whose prompt does not tokenize to a prefix of the conversation, naming the line", () => {
    const marksLast =
      "{% for m in messages %}{% if loop.last %}<|last|> {% endif %}<|{{ m.role }}|> {{ m.content }} <|end|> {% endfor %}{% if add_generation_prompt %}<|assistant|> {% endif %}";
    let caught: unknown;
    try {
      trainedTokenSpans(conversation, model(marksLast), { line: 42 });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(TunekitError);
    expect(caught).toMatchObject({ code: "template_prefix_mismatch", line: 42, kind: "data" });
    expect((caught as Error).message).toMatch(/^line 42: the chat template renders the prompt before assistant message 3 differently/);
  });

  it("says how to fix a model without a chat template", () => {
    expect(() => trainedTokenSpans(conversation, model(null))).toThrow(/no chat template/);
    try {
      trainedTokenSpans(conversation, model(null));
    } catch (error) {
      expect(error).toMatchObject({ code: "missing_chat_template", field: "data.chat_template" });
      expect((error as TunekitError).fix).toContain("--chat-template");
    }
  });

  it("reports raise_exception from the template as a data error on the line", () => {
    const strict = "{% if messages[0].role != 'system' %}{{ raise_exception('a system message must come first') }}{% endif %}" + simpleTemplate;
    const noSystem = { messages: conversation.messages.slice(1) };
    expect(() => trainedTokenSpans(noSystem, model(strict), { line: 3 })).toThrow(/^line 3: The chat template failed on this example: .*system message must come first/);
    expect(trainedTokenSpans(conversation, model(strict)).ids).toHaveLength(20);
  });
});
