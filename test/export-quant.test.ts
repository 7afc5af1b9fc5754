/**
 * q4_k_m export end to end: a tiny Llama whose matrices are 256 wide (so llama.cpp makes real k-quants,
 * not its fallbacks) is fine-tuned with the real worker, exported with `tunekit export --quant q4_k_m`
 * (the CLI from source; llama.cpp's own quantizer from node-llama-cpp's libraries), and node-llama-cpp
 * serves the quantized files: the merged q4_k_m model and the q4_k_m base + f32 LoRA adapter answer in
 * the fine-tune's learned form, stopping at end of turn, and agree with the f16 export on most prompts.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectJsonOutput } from "./helpers/cli-json-contract.js";
import { LlamaCppEngine } from "../src/serve/llama-cpp-engine.js";
import { llamaLibraryFolder } from "../src/serve/worker-exporter.js";
import type { InferenceMessage } from "../src/spec/inference-engine.js";

const root = resolve(".");
const python = join(root, ".venv", "bin", "python");
const workerRoot = join(root, "worker");
const haveWorker = existsSync(python) && existsSync(join(workerRoot, "tunekit_worker", "llama_quantize.py"));
const environment = { ...process.env, PYTHONPATH: `${workerRoot}:${join(workerRoot, "tests")}`, OMP_NUM_THREADS: "1", TOKENIZERS_PARALLELISM: "false" };

const THINGS = ["apple", "sky", "grass", "coal", "snow", "ocean"];
const prompts: InferenceMessage[][] = THINGS.map((thing) => [
  { role: "system", content: "You answer with one sentence." },
  { role: "user", content: `What color is the ${thing}?` },
]);

interface Exported {
  quant: string;
  base_gguf: string;
  adapter_gguf: string;
  merged_gguf: string;
}

let workDir: string;
let quantized: Exported;
let f16: Exported;
const engine = new LlamaCppEngine({ parallelism: 1, contextSize: 512, threads: 1 });

function exportRun(quant: string): Exported {
  const stdout = execFileSync(
    process.execPath,
    [join(root, "dist", "cli", "main.js"), "export", join(workDir, "run"), "--format", "gguf", "--quant", quant, "--out", join(workDir, quant), "--json"],
    { encoding: "utf8", env: { ...process.env, TUNEKIT_VENV: join(root, ".venv") } },
  );
  return expectJsonOutput<Exported>("export", stdout);
}

async function greedy(base: string, adapter: string | null): Promise<Array<{ text: string; finishReason: string }>> {
  const answers = [];
  for (const messages of prompts) {
    const result = await engine.generate(
      { id: "m", base, adapter },
      { messages, maxTokens: 24, temperature: 0, topP: 1, seed: null, stop: [], responseFormat: { type: "text" }, signal: new AbortController().signal },
      () => {},
    );
    answers.push({ text: result.text.trim(), finishReason: result.finishReason });
  }
  return answers;
}

describe.skipIf(!haveWorker || !llamaLibraryFolder())("tunekit export --quant q4_k_m", () => {
  beforeAll(() => {
    workDir = mkdtempSync(join(tmpdir(), "tunekit-export-quant-"));
    const build = [
      "import sys; from pathlib import Path",
      "from conftest import chat_examples, make_spec, run_worker, write_jsonl",
      "from test_llama_quantize import build_k_quant_model",
      "work = Path(sys.argv[1])",
      "model = build_k_quant_model(work / 'tiny')",
      "train = write_jsonl(work / 'train.jsonl', chat_examples(32))",
      "spec = make_spec(model, train, work / 'run', epochs=12, learning_rate=1e-2, eval_every=1000, checkpoint_every=1000)",
      "code, events, stderr = run_worker(spec, work / 'spec.json', timeout=300)",
      "assert code == 0, stderr[-2000:]",
    ].join("\n");
    execFileSync(python, ["-c", build, workDir], { env: environment, stdio: "ignore" });
    quantized = exportRun("q4_k_m");
    f16 = exportRun("f16");
  }, 300_000);

  afterAll(async () => {
    await engine.close();
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  it("writes q4_k_m base and merged files (no f16 left behind) that llama.cpp reads as Q4_K_M", async () => {
    expect(readdirSync(join(workDir, "q4_k_m")).sort()).toEqual(["adapter.gguf", "base-q4_k_m.gguf", "model-q4_k_m.gguf"]);
    const { readGgufFileInfo } = await import("node-llama-cpp");
    const info = await readGgufFileInfo(quantized.merged_gguf);
    expect(info.metadata.general.file_type).toBe(15); // LLAMA_FTYPE_MOSTLY_Q4_K_M
    const tensorTypes = new Set(info.tensorInfo?.map((tensor) => tensor.ggmlType));
    expect(tensorTypes.has(12)).toBe(true); // GGML_TYPE_Q4_K
    expect(tensorTypes.has(14)).toBe(true); // GGML_TYPE_Q6_K
    expect(statSync(quantized.merged_gguf).size).toBeLessThan(0.4 * statSync(f16.merged_gguf).size);
  });

  it("the merged q4_k_m model answers in the learned form and mostly like the f16 export", async () => {
    const fromQuantized = await greedy(quantized.merged_gguf, null);
    const fromF16 = await greedy(f16.merged_gguf, null);
    // a 2-layer model trained for seconds learns the form, not every word: most answers, not all
    expect(fromF16.filter((answer) => /^The \w+ is \w+\.$/.test(answer.text) && answer.finishReason === "stop").length).toBeGreaterThanOrEqual(prompts.length - 2);
    expect(fromQuantized.filter((answer) => /^The \w+ is \w+\.$/.test(answer.text) && answer.finishReason === "stop").length).toBeGreaterThanOrEqual(prompts.length - 2);
    // 4-bit weights move the logits a little (measured here: 4 of 6 answers identical to f16's)
    const same = fromQuantized.filter((answer, index) => answer.text === fromF16[index]!.text).length;
    expect(same).toBeGreaterThanOrEqual(prompts.length / 2);
  });

  it("the q4_k_m base with the f32 LoRA adapter answers in the learned form; the base alone does not", async () => {
    const withAdapter = await greedy(quantized.base_gguf, quantized.adapter_gguf);
    expect(withAdapter.filter((answer) => /^The \w+ is \w+\.$/.test(answer.text) && answer.finishReason === "stop").length).toBeGreaterThanOrEqual(prompts.length - 2);
    const baseAlone = await greedy(quantized.base_gguf, null);
    expect(baseAlone.filter((answer) => /^The \w+ is \w+\.$/.test(answer.text)).length).toBe(0);
  });
});
