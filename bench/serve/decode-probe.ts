// Decode cost per token straight through node-llama-cpp (no server, no HTTP): one sequence, greedy,
// 96 tokens, each variant in its own context, rounds interleaved. The figures in src/serve/README.md
// ("decode probe") come from this; `perf record -g -- npx tsx bench/serve/decode-probe.ts ...` shows
// where the time goes.
//
//   npx tsx bench/serve/decode-probe.ts --gguf BASE.gguf [--adapter NAME=ADAPTER.gguf ...] [--rounds 4] [--threads 1]
import { getLlama, LlamaCompletion, LlamaLogLevel, type LlamaContext } from "node-llama-cpp";

const args = process.argv.slice(2);
const values = (name: string) => args.flatMap((arg, index) => (arg === name && args[index + 1] ? [args[index + 1]!] : []));
const gguf = values("--gguf")[0];
if (!gguf) throw new Error("--gguf BASE.gguf is required: the base model to decode with");
const rounds = Number(values("--rounds")[0] ?? 4);
const threads = Number(values("--threads")[0] ?? 1);
const variants: Array<[string, string | null]> = [["base", null]];
for (const entry of values("--adapter")) {
  const [name, path] = entry.includes("=") ? [entry.slice(0, entry.indexOf("=")), entry.slice(entry.indexOf("=") + 1)] : [entry, entry];
  variants.push([name, path]);
}

const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error });
const model = await llama.loadModel({ modelPath: gguf });
const contexts = new Map<string, LlamaContext>();
for (const [name, adapter] of variants) {
  contexts.set(name, await model.createContext({ sequences: 1, contextSize: 512, threads, ...(adapter ? { lora: { adapters: [{ filePath: adapter }] } } : {}) }));
}
const prompt = model.tokenize("<|im_start|>user\nWrite a long story about the sea.<|im_end|>\n<|im_start|>assistant\n", true);
const times = new Map<string, number[]>();
for (let round = 0; round < rounds; round += 1) {
  for (const [name] of variants) {
    const sequence = contexts.get(name)!.getSequence();
    const completion = new LlamaCompletion({ contextSequence: sequence });
    let first = 0;
    let tokens = 0;
    await completion.generateCompletionWithMeta(prompt, {
      maxTokens: 96,
      temperature: 0,
      onToken: (chunk) => {
        tokens += chunk.length;
        if (first === 0) first = performance.now();
      },
    });
    times.set(name, [...(times.get(name) ?? []), (performance.now() - first) / Math.max(1, tokens - 1)]);
    completion.dispose();
    sequence.dispose();
  }
}
console.log(`${gguf}, llama.cpp threads ${threads}, ${rounds} rounds, ms per decoded token (after the first)`);
for (const [name, list] of times) {
  const sorted = [...list].sort((a, b) => a - b);
  console.log(`${name.padEnd(12)} min ${sorted[0]!.toFixed(2)}  median ${sorted[Math.floor(sorted.length / 2)]!.toFixed(2)}`);
}
process.exit(0);
