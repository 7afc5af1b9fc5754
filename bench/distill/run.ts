// Benchmark: `tunekit data distill` against a teacher with a known capacity: a Tunekit server in
// this process serving a tiny random Llama (node-llama-cpp engine, 1 thread) with `--parallelism 1`
// and `--max-queue 1`: one request runs, one waits, a third is refused with 429 + Retry-After.
// The peer, measured in the same run, is the teacher's own ceiling: plain official-SDK calls from
// exactly as many clients as the teacher admits (2, so none is ever refused), each sending the next
// prompt as soon as its answer comes. A second reference is the naive script: the SDK from 8 clients
// with its own retries (maxRetries 10, which honour Retry-After). Distill runs as a user runs it
// (`node dist/cli/main.js data distill`, a child process) with --concurrency 1, 2, 4 and 8 over the
// same prompts and settings; the figures are from its summary (request phase, process start left out).
// Every run goes once per round, rounds interleaved; figures pool the rounds (requests / seconds).
//
//   npx tsc -p tsconfig.json && npx tsx bench/distill/run.ts [--prompts 300] [--max-tokens 48] [--levels 1,2,4,8] [--rounds 2]
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, cpus, loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import OpenAI from "openai";
import { LocalExecutionBackend } from "../../src/providers/local/local-execution-backend.js";
import { startServer } from "../../src/server/tunekit-server.js";
import { buildTinyLlama, python, workerRoot } from "../../test/helpers/tiny-llama.js";

const args = process.argv.slice(2);
const value = (name: string, fallback: string): string => {
  const index = args.indexOf(name);
  return index !== -1 && args[index + 1] ? (args[index + 1] as string) : fallback;
};
const promptCount = Number(value("--prompts", "300"));
const maxTokens = Number(value("--max-tokens", "48"));
const levels = value("--levels", "1,2,4,8").split(",").map(Number);
const rounds = Number(value("--rounds", "2"));
const PARALLELISM = 1;
const MAX_QUEUE = 1;
const CAPACITY = PARALLELISM + MAX_QUEUE;

const workDir = mkdtempSync(join(tmpdir(), "tunekit-bench-distill-"));
const cli = resolve("dist/cli/main.js");
const questions = Array.from({ length: promptCount }, (_, index) => `Question ${index}: describe thing number ${index} in a few words.`);
const promptsFile = join(workDir, "prompts.jsonl");
writeFileSync(promptsFile, `${questions.map((question) => JSON.stringify({ prompt: question })).join("\n")}\n`);

buildTinyLlama(join(workDir, "tiny-llama"));
const server = await startServer({
  port: 0,
  dataDir: join(workDir, "data"),
  noAuth: true,
  models: [join(workDir, "tiny-llama")],
  backend: new LocalExecutionBackend({ python, workerRoot }),
  maxSeqLen: 64,
  serve: { threads: 1, parallelism: PARALLELISM, maxQueue: MAX_QUEUE },
  webRoot: null,
});
const baseURL = `${server.url}/v1`;

interface Figures {
  name: string;
  seconds: number;
  requests: number;
  completionTokens: number;
  rateLimited: number;
}

/** `clients` loops of plain SDK calls sharing one list of prompts. */
async function sdkLoop(name: string, clients: number, maxRetries: number): Promise<Figures> {
  let rateLimited = 0;
  const client = new OpenAI({
    baseURL,
    apiKey: "unused",
    maxRetries,
    // count the 429s the SDK retries by itself
    fetch: async (url, init) => {
      const response = await fetch(url, init);
      if (response.status === 429) rateLimited += 1;
      return response;
    },
  });
  let next = 0;
  let completionTokens = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (next < questions.length) {
        const question = questions[next++] as string;
        const answer = await client.chat.completions.create({ model: "tiny-llama", messages: [{ role: "user", content: question }], max_tokens: maxTokens, temperature: 0 });
        completionTokens += answer.usage?.completion_tokens ?? 0;
      }
    }),
  );
  return { name, seconds: (performance.now() - started) / 1000, requests: questions.length, completionTokens, rateLimited };
}

function distill(concurrency: number): Promise<Figures> {
  const out = join(workDir, `distilled-${concurrency}.jsonl`);
  rmSync(out, { force: true });
  rmSync(`${out}.distill-progress`, { force: true });
  const command = [
    "data",
    "distill",
    "--teacher",
    "tiny-llama",
    "--base-url",
    baseURL,
    "--prompts",
    promptsFile,
    "--out",
    out,
    "--concurrency",
    String(concurrency),
    "--max-tokens",
    String(maxTokens),
    "--json",
  ];
  return new Promise((done, fail) => {
    execFile(process.execPath, [cli, ...command], { maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
      if (error) return fail(new Error(`distill --concurrency ${concurrency} failed: ${stderr || stdout}`));
      const summary = JSON.parse(stdout);
      if (!summary.complete) return fail(new Error(`distill --concurrency ${concurrency} left ${summary.remaining} prompts`));
      done({
        name: `distill --concurrency ${concurrency}`,
        seconds: summary.wall_seconds,
        requests: summary.answered,
        completionTokens: summary.usage.completion_tokens,
        rateLimited: summary.rate_limited,
      });
    });
  });
}

try {
  // the first request exports the GGUF and loads it
  await sdkLoop("warm-up", 1, 0).catch(() => undefined);
  const runs: Array<{ name: string; run: () => Promise<Figures> }> = [
    { name: `peer: SDK x ${CAPACITY} clients (the teacher's capacity)`, run: () => sdkLoop("peer", CAPACITY, 0) },
    ...levels.map((level) => ({ name: `distill --concurrency ${level}`, run: () => distill(level) })),
    { name: "naive: SDK x 8 clients, SDK retries (10)", run: () => sdkLoop("naive", 8, 10) },
  ];
  // rounds interleave every run, so that a machine busy with something else slows all of them alike
  const pooled = new Map<string, Figures>();
  for (let round = 0; round < rounds; round++) {
    for (const { name, run } of runs) {
      const figures = await run();
      const sum = pooled.get(name) ?? { name, seconds: 0, requests: 0, completionTokens: 0, rateLimited: 0 };
      pooled.set(name, {
        name,
        seconds: sum.seconds + figures.seconds,
        requests: sum.requests + figures.requests,
        completionTokens: sum.completionTokens + figures.completionTokens,
        rateLimited: sum.rateLimited + figures.rateLimited,
      });
    }
  }
  const peer = pooled.get(runs[0]!.name)!;
  const peerRate = peer.requests / peer.seconds;

  const cpu = cpus()[0]?.model ?? "unknown CPU";
  process.stdout.write(
    `teacher: tiny random Llama on tunekit server, parallelism ${PARALLELISM}, max queue ${MAX_QUEUE}, 1 thread; ${promptCount} prompts, max_tokens ${maxTokens}, temperature 0; ${rounds} rounds pooled\n` +
      `machine: ${cpu}, ${availableParallelism()} CPUs, load ${loadavg()[0]?.toFixed(2)}; node ${process.version}; ${new Date().toISOString().slice(0, 10)}\n\n`,
  );
  const header = `${"run".padEnd(48)} ${"seconds".padStart(8)} ${"req/s".padStart(8)} ${"tok/s".padStart(8)} ${"429s".padStart(6)} ${"vs peer".padStart(8)}`;
  process.stdout.write(`${header}\n${"-".repeat(header.length)}\n`);
  for (const result of pooled.values()) {
    const rate = result.requests / result.seconds;
    process.stdout.write(
      `${result.name.padEnd(48)} ${result.seconds.toFixed(2).padStart(8)} ${rate.toFixed(1).padStart(8)} ${(result.completionTokens / result.seconds).toFixed(0).padStart(8)} ${String(result.rateLimited).padStart(6)} ${(rate / peerRate).toFixed(2).padStart(8)}\n`,
    );
  }
} finally {
  await server.close();
  rmSync(workDir, { recursive: true, force: true });
}
