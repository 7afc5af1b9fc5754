/**
 * `tunekit eval` and `tunekit assess` end to end: the real CLI (dist/cli/main.js, built by `make build`) against
 * `tunekit server`'s OpenAI-compatible chat completions, serving a tiny random Llama as the base
 * model and a LoRA fine-tune of it trained through the server's own job API (it learns to answer
 * every color question with "red"). The three report files are written and report.html is opened
 * in headless chromium (no console errors, no network requests).
 */
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import OpenAI, { toFile } from "openai";
import { chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalExecutionBackend } from "../src/providers/local/local-execution-backend.js";
import { startServer, type RunningServer } from "../src/server/tunekit-server.js";
import type { EvalReport } from "../src/eval/run-eval.js";
import { roundMoney, type SnakeCased } from "../src/core/json-style.js";
import { expectJsonOutput } from "./helpers/cli-json-contract.js";
import { buildTinyLlama, python, workerRoot } from "./helpers/tiny-llama.js";

const root = resolve(".");
const haveWorker = existsSync(python) && existsSync(join(workerRoot, "tests", "conftest.py"));

const THINGS = ["apple", "sky", "grass", "banana", "coal", "snow", "plum", "carrot"];
const SYSTEM = "You answer with one sentence.";
const example = (thing: string, color: string) =>
  JSON.stringify({
    messages: [
      { role: "system", content: SYSTEM },
      { role: "user", content: `What color is the ${thing}?` },
      { role: "assistant", content: `The ${thing} is ${color}.` },
    ],
  });

let workDir: string;
let server: RunningServer;
let fineTunedModel: string;
let runDir: string;

function findRunDir(folder: string): string | null {
  for (const entry of readdirSync(folder)) {
    const path = join(folder, entry);
    if (entry === "summary.json") return folder;
    if (statSync(path).isDirectory()) {
      const found = findRunDir(path);
      if (found) return found;
    }
  }
  return null;
}

function tunekit(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      [join(root, "dist", "cli", "main.js"), ...args],
      { cwd: workDir, env: { ...process.env, OPENAI_API_KEY: "" }, timeout: 240_000 },
      (error, stdout, stderr) => done({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe.skipIf(!haveWorker)("tunekit eval and assess against tunekit server", () => {
  beforeAll(async () => {
    workDir = mkdtempSync(join(tmpdir(), "tunekit-eval-"));
    buildTinyLlama(join(workDir, "tiny-llama"));
    const train = THINGS.flatMap((thing) => [example(thing, "red"), example(thing, "red"), example(thing, "red"), example(thing, "red")]);
    writeFileSync(join(workDir, "train.jsonl"), `${train.join("\n")}\n`);
    writeFileSync(join(workDir, "test.jsonl"), `${THINGS.map((thing) => example(thing, "red")).join("\n")}\n`);
    server = await startServer({
      port: 0,
      dataDir: join(workDir, "data"),
      noAuth: true,
      models: [join(workDir, "tiny-llama")],
      backend: new LocalExecutionBackend({ python, workerRoot }),
      trainingDefaults: { device: "cpu", threads: 1, learning_rate: 2e-2, eval_every: 1000, checkpoint_every: 1000 },
      maxSeqLen: 64,
      serve: { parallelism: 1, maxQueue: 8, contextSize: 2048 },
    });
    const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "unused", maxRetries: 0 });
    const file = await client.files.create({ file: await toFile(Buffer.from(readFileSync(join(workDir, "train.jsonl"))), "train.jsonl"), purpose: "fine-tune" });
    const job = await client.fineTuning.jobs.create({ model: "tiny-llama", training_file: file.id, suffix: "red", hyperparameters: { n_epochs: 16, batch_size: 8 }, seed: 3 }); // fixed: a drawn seed makes the quality thresholds below a lottery
    const deadline = Date.now() + 240_000;
    for (;;) {
      const now = await client.fineTuning.jobs.retrieve(job.id);
      if (now.status === "succeeded") {
        fineTunedModel = now.fine_tuned_model!;
        break;
      }
      if (["failed", "cancelled"].includes(now.status) || Date.now() > deadline) throw new Error(`job ${job.id} ${now.status}: ${JSON.stringify(now.error)}`);
      await new Promise((done) => setTimeout(done, 250));
    }
    runDir = findRunDir(join(workDir, "data"))!;
    writeFileSync(
      join(workDir, "tunekit.yaml"),
      [
        `model: ${join(workDir, "tiny-llama")}`,
        "data:",
        "  train: train.jsonl",
        "  test: test.jsonl",
        "eval:",
        "  metrics: [token-f1, normalized-match, rouge-l, regex]",
        "  regex: '\\bred\\b'",
        "  max_tokens: 16",
        "  bootstrap_samples: 500",
        "  expected_requests: 1000000",
        "  few_shot: { k: 2 }",
        "  rag: { k: 2 }",
        "  base:",
        "    model: tiny-llama",
        `    base_url: ${server.url}/v1`,
        "    hour_price: 0.5",
        "  fine_tuned:",
        `    run_dir: ${runDir}`,
        "    endpoint:",
        `      model: ${fineTunedModel}`,
        `      base_url: ${server.url}/v1`,
        "      hour_price: 0.5",
        "  out: report",
      ].join("\n"),
    );
  }, 400_000);

  afterAll(async () => {
    await server?.close();
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  it("tunekit eval compares four strategies, writes report.json/md/html and recommends fine-tuning", async () => {
    const result = await tunekit(["eval", "-c", "tunekit.yaml"]);
    expect(result.stderr).not.toContain("error:");
    expect(result.code).toBe(0);
    const report = JSON.parse(readFileSync(join(workDir, "report", "report.json"), "utf8")) as SnakeCased<EvalReport>;
    expect(report.strategies.map((strategy) => strategy.strategy)).toEqual(["zero-shot", "few-shot", "rag", "fine-tuned"]);
    const byName = Object.fromEntries(report.strategies.map((strategy) => [strategy.strategy, strategy]));
    // the fine-tune learned the task's form, "The <thing> is red.", on every held-out question (a
    // 2-layer random model does not always copy the right <thing>: "The sky is red." for the apple
    // scores 0.75; the base model never answers in this form)
    expect(byName["fine-tuned"]!.metrics["token-f1"]!.mean).toBeGreaterThanOrEqual(0.6);
    expect(byName["fine-tuned"]!.metrics.regex!.mean).toBeGreaterThanOrEqual(0.75);
    expect(byName["zero-shot"]!.metrics["token-f1"]!.mean).toBeLessThan(0.5);
    for (const strategy of report.strategies) {
      expect(strategy.examples).toHaveLength(THINGS.length);
      // exact token counts from the server's usage; few-shot and RAG prompts are longer
      expect(strategy.tokens.source).toContain("usage");
      expect(strategy.latency.p95_ms).toBeGreaterThanOrEqual(strategy.latency.p50_ms);
      expect(strategy.cost.hosting).toBe("local");
      expect(strategy.cost.per1000_requests).toBeGreaterThan(0);
    }
    expect(byName["few-shot"]!.tokens.mean_prompt).toBeGreaterThan(byName["zero-shot"]!.tokens.mean_prompt);
    expect(byName.rag!.tokens.mean_prompt).toBeGreaterThan(byName["zero-shot"]!.tokens.mean_prompt);
    expect(byName["fine-tuned"]!.tokens.mean_prompt).toBe(byName["zero-shot"]!.tokens.mean_prompt);
    // the training cost comes from the run's summary.json: measured seconds x hour price
    const summary = JSON.parse(readFileSync(join(runDir, "summary.json"), "utf8")) as { train_runtime_s: number };
    expect(report.fine_tuning.training_seconds).toBeCloseTo(summary.train_runtime_s, 6);
    // money in report.json is rounded (to the cent, under a cent to two significant digits)
    expect(report.fine_tuning.cost).toBe(roundMoney((summary.train_runtime_s / 3600) * 0.5));
    expect(report.recommendation.break_even).not.toBeNull();
    expect(report.recommendation.verdict).toBe("fine-tune");
    expect(result.stdout).toContain("report.html");

    const markdown = readFileSync(join(workDir, "report", "report.md"), "utf8");
    expect(markdown).toContain("| fine-tuned |");
    expect(markdown).toContain("## Worst examples");

    const browser = await chromium.launch({
      executablePath: "/usr/bin/chromium",
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
    });
    try {
      const context = await browser.newContext();
      const page = await context.newPage();
      const url = pathToFileURL(join(workDir, "report", "report.html")).href;
      const problems: string[] = [];
      const requests: string[] = [];
      page.on("console", (message) => {
        if (message.type() === "error") problems.push(message.text());
      });
      page.on("pageerror", (error) => problems.push(error.message));
      await context.route("**/*", (route) => {
        if (route.request().url() !== url) requests.push(route.request().url());
        return route.request().url() === url ? route.continue() : route.abort();
      });
      await page.goto(url, { waitUntil: "load" });
      expect(problems).toEqual([]);
      expect(requests).toEqual([]);
      expect(await page.locator("svg").count()).toBe(3);
      expect(await page.locator(".verdict").getAttribute("data-verdict")).toBe(report.recommendation.verdict);
    } finally {
      await browser.close();
    }
  }, 300_000);

  it("tunekit assess checks the data, runs the baselines and estimates the cost before training", async () => {
    const result = await tunekit(["assess", "train.jsonl", "-c", "tunekit.yaml", "--strategies", "zero-shot,few-shot", "--out", "assess", "--json"]);
    expect(result.code).toBe(0);
    const report = expectJsonOutput<SnakeCased<EvalReport> & { readiness: { ok: boolean; stats: unknown } }>("assess", result.stdout);
    expect(report.kind).toBe("assess");
    expect(report.readiness.ok).toBe(true);
    expect(report.strategies.map((strategy) => strategy.strategy)).toEqual(["zero-shot", "few-shot"]);
    expect(report.recommendation.verdict).toBe("evaluate-fine-tuned");
    // a local model: tokens to process from the model's tokenizer, time from the run's measured throughput
    expect(report.fine_tuning.training_tokens).toBeGreaterThan(0);
    expect(report.fine_tuning.cost).toBeGreaterThan(0);
    expect(existsSync(join(workDir, "assess", "report.html"))).toBe(true);
  }, 300_000);

  it("without a base_url, serves the local base model and the run's adapter in process", async () => {
    const local = [
      `model: ${join(workDir, "tiny-llama")}`,
      "data:",
      "  train: train.jsonl",
      "  test: test.jsonl",
      "eval:",
      "  metrics: [token-f1]",
      "  max_tokens: 16",
      "  bootstrap_samples: 200",
      "  fine_tuned:",
      `    run_dir: ${runDir}`,
      "  out: local-report",
    ].join("\n");
    writeFileSync(join(workDir, "local.yaml"), local);
    const result = await tunekit(["eval", "-c", "local.yaml", "--strategies", "zero-shot,fine-tuned", "--json"]);
    expect(result.stderr).toContain("in process at http://127.0.0.1:");
    expect(result.code).toBe(0);
    expect(expectJsonOutput<{ kind: string }>("eval", result.stdout).kind).toBe("eval");
    const report = JSON.parse(readFileSync(join(workDir, "local-report", "report.json"), "utf8")) as SnakeCased<EvalReport>;
    const [zeroShot, fineTuned] = report.strategies;
    expect(zeroShot!.model).toBe("base");
    expect(fineTuned!.model).toMatch(/^ft:tiny-llama:eval:local$/);
    // the adapter is the one trained above: it answers "The <thing> is red." (see the first test)
    expect(fineTuned!.metrics["token-f1"]!.mean).toBeGreaterThanOrEqual(0.6);
    expect(fineTuned!.metrics["token-f1"]!.mean).toBeGreaterThan(zeroShot!.metrics["token-f1"]!.mean + 0.3);
    expect(zeroShot!.metrics["token-f1"]!.mean).toBeLessThan(0.5);
  }, 300_000);

  it("names the field to fix when the fine-tuned model is not configured", async () => {
    const result = await tunekit(["eval", "-c", "tunekit.yaml", "--set", "eval.fine_tuned.endpoint.model=null", "--strategies", "fine-tuned"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("`eval.fine_tuned.endpoint.model`");
  });
});
