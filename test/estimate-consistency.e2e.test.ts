/**
 * Issue 13, "train/serve and estimate consistency": the real CLI (dist/cli/main.js) on a user's
 * inputs. DPO estimates count both answers and the reference pass; a local `estimate` reads the
 * config (-c, default ./tunekit.yaml) and its `data.max_seq_len`; long counts show progress on
 * stderr only; no usable example is one line and exit 1; a chat template that cannot render tool
 * calls (or messages without content) says so, with the line and the model; prompt-completion runs
 * warn at `train` and at `serve` that chat completions use a template training did not.
 */
import { execFile, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ChatTemplate as ServeChatTemplate } from "../src/serve/chat-template.js";
import { buildTinyLlama, haveWorker } from "./helpers/tiny-llama.js";

const CLI = resolve("dist/cli/main.js");
const VENV = resolve(".venv");
let scratch: string;

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

function tunekit(args: string[], env: Record<string, string> = {}, cwd = scratch, timeout = 120_000): Promise<CliResult> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { cwd, env: { ...process.env, TUNEKIT_PROGRESS_INTERVAL_S: "", HF_HOME: join(scratch, "hf"), ...env }, timeout, maxBuffer: 64 << 20 },
      (error, stdout, stderr) => done({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout, stderr }),
    );
  });
}

const jsonl = (records: unknown[]) => `${records.map((record) => JSON.stringify(record)).join("\n")}\n`;

/**
 * A word-level tokenizer saved like a transformers folder: every whitespace-separated word is one
 * token (unknown words are [UNK], still one), so counts can be worked out by hand.
 */
function writeWordTokenizer(folder: string, chatTemplate: string, contextLength = 2048): string {
  const words = ["[UNK]", "hello", "there", "<|user|>", "<|assistant|>", "<|system|>", "<|tool|>", "<|end|>"];
  const vocab = Object.fromEntries(words.map((word, index) => [word, index]));
  const special = (content: string) => ({ id: vocab[content], content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
  mkdirSync(folder, { recursive: true });
  writeFileSync(
    join(folder, "tokenizer.json"),
    JSON.stringify({
      version: "1.0",
      added_tokens: words.filter((word) => word.startsWith("<|")).map(special),
      normalizer: null,
      pre_tokenizer: { type: "WhitespaceSplit" },
      post_processor: null,
      decoder: null,
      model: { type: "WordPiece", unk_token: "[UNK]", continuing_subword_prefix: "##", max_input_chars_per_word: 100, vocab },
    }),
  );
  writeFileSync(join(folder, "tokenizer_config.json"), JSON.stringify({ eos_token: "<|end|>", chat_template: chatTemplate }));
  writeFileSync(join(folder, "config.json"), JSON.stringify({ max_position_embeddings: contextLength }));
  return folder;
}

// "<|role|> content <|end|>" per message: a message is 2 + its words tokens
const SIMPLE_TEMPLATE = "{% for m in messages %}<|{{ m.role }}|> {{ m.content }} <|end|> {% endfor %}{% if add_generation_prompt %}<|assistant|> {% endif %}";
// like many small models' templates: content is concatenated, tools are never read
const NO_TOOLS_TEMPLATE = "{% for m in messages %}{{ '<|' + m['role'] + '|> ' + m['content'] + ' <|end|> ' }}{% endfor %}{% if add_generation_prompt %}<|assistant|> {% endif %}";

const words = (count: number) => Array.from({ length: count }, () => "hello").join(" ");
const chat = (user: number, assistant: number) => ({
  messages: [
    { role: "user", content: words(user) },
    { role: "assistant", content: words(assistant) },
  ],
});
const pair = (prompt: number, chosen: number, rejected: number) => ({
  input: { messages: [{ role: "user", content: words(prompt) }] },
  preferred_output: [{ role: "assistant", content: words(chosen) }],
  non_preferred_output: [{ role: "assistant", content: words(rejected) }],
});

beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), "tunekit-estimate-consistency-"));
  writeWordTokenizer(join(scratch, "word-model"), SIMPLE_TEMPLATE);
  writeWordTokenizer(join(scratch, "no-tools-model"), NO_TOOLS_TEMPLATE);
  mkdirSync(join(scratch, "data"));
  // a sequence is 4 + prompt + answer tokens: 6 with the preferred answer, 8 and 7 with the other
  writeFileSync(join(scratch, "pairs.jsonl"), jsonl([pair(1, 1, 3), pair(1, 1, 2)]));
  // chat sequences of 4 + user + assistant tokens: 6, 14, 24, 44
  writeFileSync(join(scratch, "data", "train.jsonl"), jsonl([chat(1, 1), chat(5, 5), chat(10, 10), chat(20, 20)]));
  writeFileSync(join(scratch, "junk.jsonl"), jsonl(Array.from({ length: 30 }, (_, index) => ({ question: `q${index}` }))));
});

afterAll(() => {
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

describe("DPO estimates count what DPO processes", () => {
  it("local: the prompt with each answer every epoch, plus the reference model's forward pass once", async () => {
    const result = await tunekit(["estimate", "pairs.jsonl", "--model", "./word-model", "--epochs", "2", "--tokens-per-second", "9", "--json"]);
    expect(result.code, result.stderr).toBe(0);
    const { local } = JSON.parse(result.stdout);
    // preferred: 6 + 6 = 12; non-preferred: (4 + 1 + 3) + (4 + 1 + 2) = 15
    expect(local).toMatchObject({
      training_method: "dpo",
      tokens_per_epoch: 27,
      trained_tokens_per_epoch: 2 + 2 + 4 + 3, // each answer and its <|end|>
      tokens_processed: 2 * 27 + 27,
      compute_tokens: 2 * 27 + 27 / 3,
      dpo: { pairs: 2, chosen_tokens_per_epoch: 12, rejected_tokens_per_epoch: 15, reference_forward_tokens: 27 },
    });
    expect(local.dpo.reference_token_weight).toBeCloseTo(1 / 3, 9);
    expect(local.seconds).toBeCloseTo(63 / 9, 9);
    expect(local.dpo.note).toMatch(/reference model/);
  });

  it("the human report shows the breakdown", async () => {
    const result = await tunekit(["estimate", "pairs.jsonl", "--model", "./word-model", "--epochs", "2"]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain("local training with ./word-model (dpo):");
    expect(result.stdout).toContain("DPO, 2 pairs: 12 tokens with the preferred answer + 15 with the non-preferred answer per epoch, x 2 epoch(s)");
    expect(result.stdout).toContain("reference model: 27 tokens forward only, once (~0.33 of a trained token each): 63 compute tokens in all");
  });

  it("hosted: billed tokens are the prompt with the preferred and with the non-preferred answer", async () => {
    const result = await tunekit(["estimate", "pairs.jsonl", "--model", "gpt-4.1-mini-2025-04-14", "--epochs", "1", "--json"]);
    expect(result.code, result.stderr).toBe(0);
    const estimate = JSON.parse(result.stdout);
    const selected = estimate.hosted.find((row: { selected: boolean }) => row.selected);
    expect(selected.chosen_tokens_per_epoch).toBeGreaterThan(0);
    expect(selected.rejected_tokens_per_epoch).toBeGreaterThan(selected.chosen_tokens_per_epoch); // the rejected answers are longer
    expect(selected.billed_tokens_per_epoch).toBe(selected.chosen_tokens_per_epoch + selected.rejected_tokens_per_epoch);
    const stats = JSON.parse((await tunekit(["data", "stats", "pairs.jsonl", "--model", "gpt-4.1-mini-2025-04-14", "--json"])).stdout);
    expect(stats.total_tokens).toBe(selected.chosen_tokens_per_epoch); // stats' main counts are the preferred sequence
    expect(stats.non_preferred).toMatchObject({ pairs: 2, total_tokens: selected.rejected_tokens_per_epoch });
    const human = await tunekit(["estimate", "pairs.jsonl", "--model", "gpt-4.1-mini-2025-04-14", "--epochs", "1"]);
    expect(human.stdout).toContain(
      `gpt-4.1-mini-2025-04-14: ${selected.chosen_tokens_per_epoch} with the preferred + ${selected.rejected_tokens_per_epoch} with the non-preferred answer per epoch`,
    );
  });
});

describe("a local estimate reads the config", () => {
  const config = (maxSeqLen: number) =>
    ["model: ./word-model", "data:", "  train: data/train.jsonl", `  max_seq_len: ${maxSeqLen}`, "training:", "  epochs: 3", "  batch_size: 2", ""].join("\n");

  it("./tunekit.yaml by default: its model, data.train, max_seq_len (truncation counted), epochs and batch size", async () => {
    const folder = join(scratch, "project");
    mkdirSync(join(folder, "data"), { recursive: true });
    writeWordTokenizer(join(folder, "word-model"), SIMPLE_TEMPLATE);
    writeFileSync(join(folder, "data", "train.jsonl"), jsonl([chat(1, 1), chat(5, 5), chat(10, 10), chat(20, 20)]));
    writeFileSync(join(folder, "tunekit.yaml"), config(16));
    const result = await tunekit(["estimate", "--json"], {}, folder);
    expect(result.code, result.stderr).toBe(0);
    const estimate = JSON.parse(result.stdout);
    expect(estimate).toMatchObject({ config: "tunekit.yaml", examples: 4, epochs: 3, epochs_rule: "`training.epochs` of tunekit.yaml" });
    expect(estimate.file).toBe(join(folder, "data", "train.jsonl"));
    // 6 + min(16, 14) + min(16, 24) + min(16, 44) = 6 + 14 + 16 + 16
    expect(estimate.local).toMatchObject({
      max_seq_len: 16,
      sequence_cap: 16,
      truncated_examples: 2,
      tokens_per_epoch: 52,
      tokens_processed: 156,
      batch_size: 2,
      steps_per_epoch: 2,
      total_steps: 6,
      training_method: "lora",
    });

    const human = await tunekit(["estimate"], {}, folder);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toContain("each sequence capped at 16 (context length 2048, data.max_seq_len 16)");
    expect(human.stdout).toContain("2 example(s) longer than 16 tokens: the worker truncates them");
    expect(human.stdout).toContain("batch size 2: 2 steps per epoch, 6 steps");
  });

  it("-c FILE and --set, with flags over the config", async () => {
    writeFileSync(join(scratch, "run.yaml"), config(16));
    const result = await tunekit(["estimate", "-c", "run.yaml", "--set", "data.max_seq_len=30", "--epochs", "1", "--json"]);
    expect(result.code, result.stderr).toBe(0);
    const estimate = JSON.parse(result.stdout);
    expect(estimate.epochs_rule).toBe("requested");
    expect(estimate.local).toMatchObject({ max_seq_len: 30, truncated_examples: 1, tokens_per_epoch: 6 + 14 + 24 + 30, tokens_processed: 74 });
  });

  it("without a config or --model it says what is missing (exit 2); a missing data.train is named", async () => {
    const folder = join(scratch, "empty-project");
    mkdirSync(folder, { recursive: true });
    const none = await tunekit(["estimate", "data.jsonl"], {}, folder);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain("`estimate` needs a model: `--model` was not given and there is no config");
    expect(none.stderr).toContain("fix:");
    writeFileSync(join(folder, "tunekit.yaml"), "model: gpt-4o-mini-2024-07-18\ndata:\n  train: data/missing.jsonl\n");
    const missing = await tunekit(["estimate", "--json"], {}, folder);
    expect(missing.code).toBe(2);
    const { error } = JSON.parse(missing.stdout);
    expect(error).toMatchObject({ field: "data.train", code: "file_not_found" });
    expect(error.message).toContain("`data.train` of tunekit.yaml");
    expect(error.fix).toContain("relative to the config file");
  });
});

describe("progress on long counts, on stderr only", () => {
  const big = () => {
    const file = join(scratch, "big.jsonl");
    writeFileSync(file, jsonl(Array.from({ length: 4000 }, (_, index) => chat(1 + (index % 7), 2 + (index % 5)))));
    return file;
  };

  it("a periodic line (not one per example) when stderr is not a terminal; stdout stays one JSON document", async () => {
    const file = big();
    for (const args of [
      ["data", "stats", file, "--model", "./word-model", "--json"],
      ["estimate", file, "--model", "./word-model", "--json"],
    ]) {
      const result = await tunekit(args, { TUNEKIT_PROGRESS_INTERVAL_S: "0.02" });
      expect(result.code, result.stderr).toBe(0);
      expect(JSON.parse(result.stdout).examples).toBe(4000);
      const lines = result.stderr.split("\n").filter((line) => line.includes("records read"));
      expect(lines.length, result.stderr).toBeGreaterThan(0);
      expect(lines.length).toBeLessThan(400); // throttled by time, not per example
      expect(lines[0]).toMatch(/^(data stats|estimate): counting tokens: \d+ records read \(\d+ per second, \d+ s\)$/);
      expect(result.stderr).toMatch(/counting tokens: done, 4000 records in \d+\.\d s/);
    }
  });

  it("a short count prints nothing extra", async () => {
    const result = await tunekit(["data", "stats", "data/train.jsonl", "--model", "./word-model"]);
    expect(result.code).toBe(0);
    expect(result.stderr).toBe("");
  });
});

describe("zero usable examples: one line, exit 1", () => {
  it("`data stats` and `estimate`", async () => {
    for (const command of [["data", "stats"], ["estimate"]]) {
      const result = await tunekit([...command, "junk.jsonl", "--model", "gpt-4o-mini-2024-07-18"]);
      expect(result.code, command.join(" ")).toBe(1);
      const lines = result.stderr.trim().split("\n");
      expect(lines[0]).toBe(
        "error: `junk.jsonl` has no usable example: all 30 line(s) were skipped (line 1: not an example of a known format (chat, prompt-completion, preference, text))",
      );
      expect(lines.filter((line) => line.startsWith("fix:"))).toHaveLength(1);
      expect(lines.length).toBeLessThanOrEqual(3);
    }
  });
});

describe("a chat template that cannot render the data says why", () => {
  const toolExample = (index: number) => ({
    tools: [
      {
        type: "function",
        function: { name: "get_weather", description: "Weather of a city", parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] } },
      },
    ],
    messages: [
      { role: "user", content: `hello ${index}` },
      { role: "assistant", tool_calls: [{ id: "call_1", type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' } }] },
      { role: "tool", tool_call_id: "call_1", content: "hello there" },
      { role: "assistant", content: "hello" },
    ],
  });

  it("tool calls that `validate` passes: the template does not support tool calls, with the line, the model and a fix (exit 1)", async () => {
    writeFileSync(join(scratch, "tools.jsonl"), jsonl(Array.from({ length: 12 }, (_, index) => toolExample(index))));
    const validate = await tunekit(["data", "validate", "tools.jsonl"]);
    expect(validate.code, validate.stdout + validate.stderr).toBe(0);
    for (const command of [["data", "stats"], ["estimate"]]) {
      const result = await tunekit([...command, "tools.jsonl", "--model", "./no-tools-model", "--json"]);
      expect(result.code, command.join(" ")).toBe(1);
      const { error } = JSON.parse(result.stdout);
      expect(error.code).toBe("no_examples");
      expect(error.line).toBe(1);
      expect(error.message).toContain(
        "(line 1: the chat template of `./no-tools-model` does not support tool calls: it failed on this example's `tools` and `tool_calls` (message 2)",
      );
      expect(error.fix).toContain("pick a model whose chat template renders tools and tool calls");
      expect(error.fix).toContain("drop the tool calls");
    }
  });

  it("a message without content, and a mixed file that still counts its other lines", async () => {
    writeFileSync(
      join(scratch, "mixed.jsonl"),
      jsonl([
        chat(1, 1),
        {
          messages: [
            { role: "user", content: "hello" },
            { role: "assistant", content: null },
          ],
        },
      ]),
    );
    const result = await tunekit(["data", "stats", "mixed.jsonl", "--model", "./no-tools-model"]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain("1 line(s) skipped:");
    expect(result.stdout).toContain("line 2: the chat template of `./no-tools-model` does not support messages without content: message 2 (`assistant`) has `content: null`");
    expect(result.stdout).toContain('fix (template_without_empty_content): give every message a `content` string ("" if it has nothing to say)');
    expect(result.stdout).not.toMatch(/line 2: (The chat template failed|Cannot perform)/);
  });

  it("the serve path names the model and the tool turn instead of the raw Jinja error", () => {
    const template = new ServeChatTemplate(NO_TOOLS_TEMPLATE.replace("m['content']", "m['content'] + m['name']"), { bos: "", eos: "" }, "./models/tiny.gguf");
    expect(() =>
      template.render([
        { role: "user", content: "hi" },
        { role: "tool", content: "sunny" },
      ]),
    ).toThrow(/the chat template of `\.\/models\/tiny\.gguf` does not support tool calls: it failed on `messages\[1\]`/);
  });
});

describe.skipIf(!haveWorker)("prompt-completion runs: trained without the chat template, served through it", () => {
  let runDir: string;
  const workerEnvironment = { OMP_NUM_THREADS: "1", TOKENIZERS_PARALLELISM: "false", TUNEKIT_VENV: VENV };

  beforeAll(() => {
    buildTinyLlama(join(scratch, "tiny-model"));
    writeFileSync(join(scratch, "completions.jsonl"), jsonl(Array.from({ length: 16 }, (_, index) => ({ prompt: `What color is the apple ${index}?`, completion: " Red." }))));
    writeFileSync(
      join(scratch, "completions.yaml"),
      [
        "model: ./tiny-model",
        "data:",
        "  train: completions.jsonl",
        "  max_seq_len: 64",
        "training:",
        "  epochs: 1",
        "  max_steps: 1",
        "  batch_size: 8",
        "  threads: 1",
        "output:",
        "  dir: runs",
        "  name: completions-run",
        "",
      ].join("\n"),
    );
  }, 300_000);

  it("`train` warns before training, with the conversion that fixes it; --json carries it as a warning record", async () => {
    const result = await tunekit(["train", "-c", "completions.yaml", "--json"], workerEnvironment, scratch, 300_000);
    expect(result.code, result.stderr).toBe(0);
    const records = result.stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    const warning = records.find((record) => record.type === "warning");
    expect(warning).toMatchObject({ code: "trained_without_chat_template", format: "prompt-completion" });
    expect(warning!.message).toContain("without the model's chat template");
    expect(warning!.fix).toContain("--map prompt=user --map completion=assistant");
    expect(records.indexOf(warning!)).toBeLessThan(records.findIndex((record) => record.type === "started"));
    expect(records.at(-1)).toMatchObject({ type: "result", status: "done" });
    runDir = join(scratch, "runs", "completions-run");
    expect(readdirSync(runDir)).toContain("summary.json");
  }, 300_000);

  it("`serve <run>` warns on stderr (and in --json) and still serves", async () => {
    expect(runDir).toBeDefined();
    const child = spawn(process.execPath, [CLI, "serve", runDir, "--engine", "python", "--port", "0", "--json"], {
      cwd: scratch,
      env: { ...process.env, ...workerEnvironment },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
    const started = await new Promise<Record<string, unknown>>((done, fail) => {
      const timer = setTimeout(() => fail(new Error(`serve did not start: ${stderr}`)), 120_000);
      child.stdout.on("data", (chunk: Buffer) => {
        stdout += chunk.toString("utf8");
        try {
          const parsed = JSON.parse(stdout) as Record<string, unknown>;
          clearTimeout(timer);
          done(parsed);
        } catch {
          // not complete yet
        }
      });
      child.on("close", (code) => fail(new Error(`serve exited ${code}: ${stderr}`)));
    });
    const models = (await (await fetch(`${started.url as string}/v1/models`)).json()) as { data: Array<{ id: string }> };
    expect(models.data.map((entry) => entry.id)).toContain("completions-run");
    const code = await new Promise<string>((done) => {
      child.on("close", (exitCode, signal) => done(`${exitCode} ${signal}`));
      child.kill("SIGTERM");
    });
    expect(stderr).toContain(`warning: run \`${runDir}\` trained on \`prompt-completion\` data without the chat template`);
    expect(stderr).toContain("fix: train on chat data instead");
    expect(started.warnings).toEqual([expect.objectContaining({ code: "trained_without_chat_template", format: "prompt-completion" })]);
    expect(code, stderr).toBe("0 null");
  }, 180_000);
});
