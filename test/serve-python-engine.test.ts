/**
 * The Python-worker engine (`python -m tunekit_worker serve`, JSON Lines on stdin/stdout) on a tiny HF
 * model with a trained LoRA adapter: greedy text equals `python -m tunekit_worker generate`'s, streamed
 * pieces add up to the answer, stop strings cut it, and a cancelled request ends early while the
 * process keeps serving.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PythonWorkerEngine } from "../src/serve/python-worker-engine.js";
import type { GenerationRequest, InferenceMessage } from "../src/spec/inference-engine.js";

const root = resolve(".");
const python = join(root, ".venv", "bin", "python");
const workerRoot = join(root, "worker");
const haveWorker = existsSync(python) && existsSync(join(workerRoot, "tunekit_worker", "serve.py"));
const environment = { ...process.env, PYTHONPATH: workerRoot, OMP_NUM_THREADS: "1", TOKENIZERS_PARALLELISM: "false" };

const messages: InferenceMessage[] = [
  { role: "system", content: "You answer with one sentence." },
  { role: "user", content: "What color is the apple?" },
];

let workDir: string;
let engine: PythonWorkerEngine;

function request(overrides: Partial<GenerationRequest> = {}): GenerationRequest {
  return { messages, maxTokens: 30, temperature: 0, topP: 1, seed: null, stop: [], responseFormat: { type: "text" }, signal: new AbortController().signal, ...overrides };
}

describe.skipIf(!haveWorker)("python worker engine", () => {
  beforeAll(() => {
    workDir = mkdtempSync(join(tmpdir(), "tunekit-pyserve-"));
    const build = [
      "import sys; from pathlib import Path",
      "sys.path.insert(0, sys.argv[1])",
      "from conftest import build_tiny_model, chat_examples, make_spec, run_worker, write_jsonl",
      "work = Path(sys.argv[2])",
      "model = build_tiny_model(work / 'tiny')",
      "train = write_jsonl(work / 'train.jsonl', chat_examples(32))",
      "spec = make_spec(model, train, work / 'run', epochs=8, learning_rate=2e-2, eval_every=1000, checkpoint_every=1000)",
      "code, events, stderr = run_worker(spec, work / 'spec.json')",
      "assert code == 0, stderr[-2000:]",
    ].join("\n");
    execFileSync(python, ["-c", build, join(workerRoot, "tests"), workDir], { env: environment, stdio: "ignore" });
    writeFileSync(join(workDir, "prompt.jsonl"), `${JSON.stringify({ messages })}\n`);
    engine = new PythonWorkerEngine({ python, workerRoot, environment });
  }, 300_000);

  afterAll(async () => {
    await engine?.close();
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  it("streams the same greedy answer as `tunekit_worker generate`, with and without the adapter", async () => {
    for (const adapter of [null, join(workDir, "run", "adapter")]) {
      const args = ["-m", "tunekit_worker", "generate", join(workDir, "tiny"), join(workDir, "prompt.jsonl"), "--limit", "1", "--max-new-tokens", "30"];
      if (adapter) args.push("--adapter", adapter);
      const reference = JSON.parse(execFileSync(python, args, { env: environment, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim()) as { output: string; completion_tokens: number };
      const pieces: string[] = [];
      const result = await engine.generate({ id: "m", base: join(workDir, "tiny"), adapter }, request(), (text) => pieces.push(text));
      expect(result.text.trim()).toBe(reference.output);
      expect(pieces.join("")).toBe(result.text);
      expect(result.completionTokens + (result.finishReason === "stop" ? 1 : 0)).toBe(reference.completion_tokens);
    }
  });

  it("cuts at a stop string and a cancelled request ends early while the worker keeps serving", async () => {
    const model = { id: "m", base: join(workDir, "tiny"), adapter: join(workDir, "run", "adapter") };
    const full = await engine.generate(model, request({ maxTokens: 20 }), () => {});
    expect(full.text.length).toBeGreaterThan(6);
    const stop = full.text.slice(3, 5);
    const cut = await engine.generate(model, request({ maxTokens: 20, stop: [stop] }), () => {});
    expect(cut.text).toBe(full.text.slice(0, full.text.indexOf(stop)));
    expect(cut.finishReason).toBe("stop");

    const controller = new AbortController();
    let pieces = 0;
    const cancelled = await engine.generate(model, request({ maxTokens: 400, signal: controller.signal, messages: [{ role: "user", content: "Hello there" }] }), () => {
      pieces += 1;
      if (pieces === 2) controller.abort();
    });
    expect(cancelled.completionTokens).toBeLessThan(60);
    const after = await engine.generate(model, request({ maxTokens: 20 }), () => {});
    expect(after.text).toBe(full.text);
  });
});
