import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadTokenCounter } from "./load-token-counter.js";
import { TemplateTokenCounter } from "./template-token-counter.js";
import { TiktokenCounter } from "./tiktoken-counter.js";

const root = mkdtempSync(path.join(os.tmpdir(), "tunekit-load-counter-"));
const previousCache = process.env.HF_HUB_CACHE;
afterAll(() => {
  rmSync(root, { recursive: true, force: true });
  if (previousCache === undefined) delete process.env.HF_HUB_CACHE;
  else process.env.HF_HUB_CACHE = previousCache;
});

// A word-level tokenizer.json (every word one token) saved like a transformers folder.
function writeTokenizerFolder(folder: string, config: Record<string, unknown>): void {
  const words = ["[UNK]", "hello", "there", "<|user|>", "<|assistant|>", "<|end|>"];
  const vocab = Object.fromEntries(words.map((word, index) => [word, index]));
  const special = (content: string) => ({ id: vocab[content], content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
  mkdirSync(folder, { recursive: true });
  writeFileSync(
    path.join(folder, "tokenizer.json"),
    JSON.stringify({
      version: "1.0",
      added_tokens: ["<|user|>", "<|assistant|>", "<|end|>"].map(special),
      normalizer: null,
      pre_tokenizer: { type: "WhitespaceSplit" },
      post_processor: null,
      decoder: null,
      model: { type: "WordPiece", unk_token: "[UNK]", continuing_subword_prefix: "##", max_input_chars_per_word: 100, vocab },
    }),
  );
  writeFileSync(path.join(folder, "tokenizer_config.json"), JSON.stringify({ eos_token: "<|end|>", ...config }));
}

const template = "{% for m in messages %}<|{{ m.role }}|> {{ m.content }} <|end|> {% endfor %}{% if add_generation_prompt %}<|assistant|> {% endif %}";
const chat = {
  messages: [
    { role: "user" as const, content: "hello" },
    { role: "assistant" as const, content: "hello there" },
  ],
};

describe("loadTokenCounter", () => {
  beforeAll(() => {
    writeTokenizerFolder(path.join(root, "with-template"), { chat_template: template });
    writeFileSync(path.join(root, "with-template", "config.json"), JSON.stringify({ max_position_embeddings: 2048 }));
    writeTokenizerFolder(path.join(root, "no-template"), {});
    writeTokenizerFolder(path.join(root, "hub", "models--acme--tiny-chat", "snapshots", "0123abc"), { chat_template: template });
    process.env.HF_HUB_CACHE = path.join(root, "hub");
  });

  it("uses tiktoken for OpenAI names", async () => {
    const counter = await loadTokenCounter("ft:gpt-4.1-mini-2025-04-14:acme:bot:abc");
    expect(counter).toBeInstanceOf(TiktokenCounter);
    expect(counter.contextLength).toBe(65536);
  });

  it("loads a local folder with its chat template and context length", async () => {
    const counter = await loadTokenCounter(path.join(root, "with-template"));
    expect(counter).toBeInstanceOf(TemplateTokenCounter);
    expect(counter.contextLength).toBe(2048);
    // <|user|> hello <|end|> <|assistant|> hello there <|end|> = 7; trained: hello there <|end|> = 3
    expect(counter.count(chat)).toEqual({ total: 7, trained: 3 });
    // text: words + eos
    expect(counter.count({ text: "hello there" })).toEqual({ total: 3, trained: 3 });
  });

  it("errors clearly when the model has no chat template, and accepts one passed in", async () => {
    const bare = await loadTokenCounter(path.join(root, "no-template"));
    expect(bare.contextLength).toBeNull();
    expect(() => bare.count(chat)).toThrow(/no chat template/);
    expect(bare.count({ prompt: "hello", completion: "there" })).toEqual({ total: 3, trained: 2 });
    const overridden = await loadTokenCounter(path.join(root, "no-template"), { chatTemplate: template });
    expect(overridden.count(chat)).toEqual({ total: 7, trained: 3 });
  });

  it("finds a hub id in the local Hugging Face cache, and says how to get one that is missing", async () => {
    expect((await loadTokenCounter("acme/tiny-chat")).count(chat)).toEqual({ total: 7, trained: 3 });
    const missing = loadTokenCounter("HuggingFaceTB/SmolLM2-135M-Instruct");
    await expect(missing).rejects.toMatchObject({ code: "model_not_found", kind: "not_found", field: "model" });
    await expect(missing).rejects.toThrow(/No local copy of the hub model `HuggingFaceTB\/SmolLM2-135M-Instruct`/);
    await missing.catch((error: { fix: string }) => expect(error.fix).toContain("--model ./models/SmolLM2-135M-Instruct"));
  });

  it("rejects files that are not models and names it cannot place", async () => {
    const notModel = path.join(root, "notes.txt");
    writeFileSync(notModel, "hi");
    await expect(loadTokenCounter(notModel)).rejects.toMatchObject({ code: "unsupported_model_file" });
    await expect(loadTokenCounter("./no/such/thing.bin")).rejects.toMatchObject({ code: "model_not_found" });
    const fakeGguf = path.join(root, "broken.gguf");
    writeFileSync(fakeGguf, "not a gguf");
    await expect(loadTokenCounter(fakeGguf)).rejects.toMatchObject({ code: "invalid_gguf" });
  });
});
