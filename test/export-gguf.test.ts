/**
 * Export parity: a tiny random Llama fine-tuned with the real worker, exported with `tunekit export
 * --format gguf --quant f32` (the CLI from source), answers the same in node-llama-cpp as in PyTorch:
 * the greedy output of base GGUF + LoRA GGUF, and of the merged GGUF, equals the greedy output of the
 * PyTorch model + PEFT adapter (`python -m tunekit_worker generate`), token count included, on a set of
 * prompts; and the base GGUF alone equals the PyTorch base.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectJsonOutput } from "./helpers/cli-json-contract.js";
import { LlamaCppEngine } from "../src/serve/llama-cpp-engine.js";
import type { InferenceMessage } from "../src/spec/inference-engine.js";

const root = resolve(".");
const python = join(root, ".venv", "bin", "python");
const workerRoot = join(root, "worker");
const haveWorker = existsSync(python) && existsSync(join(workerRoot, "tunekit_worker", "export.py"));
const environment = { ...process.env, PYTHONPATH: workerRoot, OMP_NUM_THREADS: "1", TOKENIZERS_PARALLELISM: "false" };

const THINGS = ["apple", "sky", "grass", "coal", "snow", "ocean"];
const prompts: InferenceMessage[][] = THINGS.map((thing) => [
  { role: "system", content: "You answer with one sentence." },
  { role: "user", content: `What color is the ${thing}?` },
]);

interface Reference {
  output: string;
  completion_tokens: number;
}

let workDir: string;
let exported: { base_gguf: string; adapter_gguf: string; merged_gguf: string };
let tunedReference: Reference[];
let baseReference: Reference[];
const engine = new LlamaCppEngine({ parallelism: 1, contextSize: 512, threads: 1 });

function pytorchGreedy(adapter: string | null): Reference[] {
  const args = [
    "-m",
    "tunekit_worker",
    "generate",
    join(workDir, "tiny"),
    join(workDir, "prompts.jsonl"),
    "--limit",
    String(prompts.length),
    "--max-new-tokens",
    "40",
    "--threads",
    "1",
  ];
  if (adapter) args.push("--adapter", adapter);
  const stdout = execFileSync(python, args, { env: environment, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
  return stdout
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line) as Reference);
}

async function llamaGreedy(base: string, adapter: string | null): Promise<Array<{ text: string; completionTokens: number; finishReason: string }>> {
  const answers = [];
  for (const messages of prompts) {
    const result = await engine.generate(
      { id: "m", base, adapter },
      { messages, maxTokens: 40, temperature: 0, topP: 1, seed: null, stop: [], responseFormat: { type: "text" }, signal: new AbortController().signal },
      () => {},
    );
    answers.push(result);
  }
  return answers.map((answer) => ({ text: answer.text.trim(), completionTokens: answer.completionTokens, finishReason: answer.finishReason }));
}

describe.skipIf(!haveWorker)("exported GGUF answers like the PyTorch model", () => {
  beforeAll(() => {
    workDir = mkdtempSync(join(tmpdir(), "tunekit-export-"));
    const build = [
      "import sys; from pathlib import Path",
      "sys.path.insert(0, sys.argv[1])",
      "from conftest import build_tiny_model, chat_examples, make_spec, run_worker, write_jsonl",
      "work = Path(sys.argv[2])",
      "model = build_tiny_model(work / 'tiny')",
      "train = write_jsonl(work / 'train.jsonl', chat_examples(32))",
      "spec = make_spec(model, train, work / 'run', epochs=12, learning_rate=2e-2, eval_every=1000, checkpoint_every=1000)",
      "code, events, stderr = run_worker(spec, work / 'spec.json')",
      "assert code == 0, stderr[-2000:]",
    ].join("\n");
    execFileSync(python, ["-c", build, join(workerRoot, "tests"), workDir], { env: environment, stdio: "ignore" });
    writeFileSync(join(workDir, "prompts.jsonl"), prompts.map((messages) => JSON.stringify({ messages })).join("\n") + "\n");
    const cli = execFileSync(process.execPath, [join(root, "dist", "cli", "main.js"), "export", join(workDir, "run"), "--format", "gguf", "--quant", "f32", "--json"], {
      encoding: "utf8",
      env: { ...process.env, TUNEKIT_VENV: join(root, ".venv") },
    });
    exported = expectJsonOutput<typeof exported>("export", cli);
    tunedReference = pytorchGreedy(join(workDir, "run", "adapter"));
    baseReference = pytorchGreedy(null);
  }, 300_000);

  afterAll(async () => {
    await engine.close();
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  it("base GGUF + LoRA GGUF: the same greedy text and token count as PyTorch + PEFT, stopping at end of turn", async () => {
    expect(exported.adapter_gguf).toMatch(/adapter\.gguf$/);
    const answers = await llamaGreedy(exported.base_gguf, exported.adapter_gguf);
    expect(answers.map((answer) => answer.text)).toEqual(tunedReference.map((reference) => reference.output));
    // PyTorch counts the end-of-turn token it stopped at; the OpenAI usage we report does not
    expect(answers.map((answer) => answer.completionTokens + (answer.finishReason === "stop" ? 1 : 0))).toEqual(tunedReference.map((reference) => reference.completion_tokens));
    // the fine-tune learned answers that end with its end-of-turn token, well before max tokens
    expect(answers.filter((answer) => answer.finishReason === "stop" && answer.completionTokens < 40).length).toBeGreaterThanOrEqual(prompts.length - 1);
    expect(answers.some((answer) => /^The \w+ is \w+\.$/.test(answer.text))).toBe(true);
  });

  it("merged GGUF: the same greedy text as PyTorch + PEFT", async () => {
    const answers = await llamaGreedy(exported.merged_gguf, null);
    expect(answers.map((answer) => answer.text)).toEqual(tunedReference.map((reference) => reference.output));
  });

  it("base GGUF alone: the same greedy text as the PyTorch base, and different from the fine-tune", async () => {
    const answers = await llamaGreedy(exported.base_gguf, null);
    // random weights write arbitrary bytes: at the 40-token cut the two decoders treat a dangling partial
    // UTF-8 sequence differently (U+FFFD, held back, or a stray byte), so a cut answer may differ in its
    // last character or two; an answer that ended at end of turn must be identical
    answers.forEach((answer, index) => {
      const reference = baseReference[index]!.output;
      if (answer.finishReason === "length") {
        const common = Math.min(reference.length, answer.text.length) - 2;
        expect(answer.text.slice(0, common)).toBe(reference.slice(0, common));
        expect(Math.abs(reference.length - answer.text.length)).toBeLessThanOrEqual(2);
      } else {
        expect(answer.text).toBe(reference);
      }
    });
    expect(answers.map((answer) => answer.text)).not.toEqual(tunedReference.map((reference) => reference.output));
  });
});
