/**
 * `tunekit data distill` as a user runs it (`node dist/cli/main.js`, a separate process) against a
 * real teacher: a Tunekit server in this process serving a tiny random Llama through the real
 * engine, with one slot and one queue place, so that distill's concurrency of 8 draws 429s with
 * Retry-After. The first run is killed with SIGKILL mid-way; the same command resumes it; the
 * output then has one valid chat row per prompt, none lost, none twice.
 * Run `npx tsc -p tsconfig.json` first: the CLI runs from dist/.
 */
import { execFile, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectJsonOutput } from "./helpers/cli-json-contract.js";

type Usage = { prompt_tokens: number; completion_tokens: number };
/** The fields of `data distill --json` this file reads (the whole shape is checked by its schema). */
type DistillSummary = {
  prompts_total: number;
  already_done: number;
  answered: number;
  rate_limited: number;
  retries: number;
  concurrency: { final: number };
  usage: Usage;
  dataset_usage: Usage;
  cost: { this_run: number | null; basis: string };
  requests_per_second: number;
};
import { LocalExecutionBackend } from "../src/providers/local/local-execution-backend.js";
import { startServer, type RunningServer } from "../src/server/tunekit-server.js";
import { buildTinyLlama, haveWorker, python, workerRoot } from "./helpers/tiny-llama.js";

const cli = resolve("dist/cli/main.js");
const PROMPTS = 40;

let workDir: string;
let server: RunningServer;
let baseUrl: string;

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** The CLI, asynchronously (the teacher answers from this process: a sync spawn would block it). */
function tunekit(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((done) => {
    execFile(process.execPath, [cli, ...args], { env: { ...process.env, OPENAI_API_KEY: "", ...env }, maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
      const failure = error as (Error & { code?: number; signal?: NodeJS.Signals }) | null;
      done({ code: failure ? (typeof failure.code === "number" ? failure.code : null) : 0, signal: failure?.signal ?? null, stdout, stderr });
    });
  });
}

function completeLines(path: string): string[] {
  if (!existsSync(path)) return [];
  const text = readFileSync(path, "utf8");
  return text
    .slice(0, text.lastIndexOf("\n") + 1)
    .split("\n")
    .filter((line) => line !== "");
}

/** The user message each prompt row sends: how rows are told apart. */
function question(index: number): string {
  return `Question ${index}: what color is thing number ${index}?`;
}

describe.skipIf(!haveWorker)("tunekit data distill from a Tunekit server's model", () => {
  beforeAll(async () => {
    workDir = mkdtempSync(join(tmpdir(), "tunekit-distill-"));
    buildTinyLlama(join(workDir, "tiny-llama"));
    server = await startServer({
      port: 0,
      dataDir: join(workDir, "data"),
      noAuth: true,
      models: [join(workDir, "tiny-llama")],
      backend: new LocalExecutionBackend({ python, workerRoot }),
      maxSeqLen: 64,
      // one request runs, one waits, the next is refused with 429 + Retry-After
      serve: { threads: 1, parallelism: 1, maxQueue: 1 },
      webRoot: null,
    });
    baseUrl = `${server.url}/v1`;
    // the first request exports and loads the model (seconds): do it before the clock of the runs starts
    const client = new OpenAI({ baseURL: baseUrl, apiKey: "unused", maxRetries: 0 });
    expect((await client.models.list()).data.map((model) => model.id)).toContain("tiny-llama");
    await client.chat.completions.create({ model: "tiny-llama", messages: [{ role: "user", content: "warm up" }], max_tokens: 2 });
  }, 120_000);

  afterAll(async () => {
    await server?.close();
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  it("resumes after kill -9 with no row lost or written twice, retries 429s, and records the teacher's tokens", async () => {
    const prompts = join(workDir, "prompts.jsonl");
    // chat rows whose old answer is replaced, and plain prompt rows; a blank line is not a prompt
    const rows = Array.from({ length: PROMPTS }, (_, index) =>
      index % 2 === 0
        ? JSON.stringify({
            messages: [
              { role: "system", content: "Answer briefly." },
              { role: "user", content: question(index) },
              { role: "assistant", content: `OLD ANSWER ${index}` },
            ],
          })
        : JSON.stringify({ prompt: question(index) }),
    );
    writeFileSync(prompts, `${rows.slice(0, 10).join("\n")}\n\n${rows.slice(10).join("\n")}\n`);
    const out = join(workDir, "distilled.jsonl");
    const args = ["data", "distill", "--teacher", "tiny-llama", "--base-url", baseUrl, "--prompts", prompts, "--out", out, "--concurrency", "8", "--max-tokens", "24", "--json"];

    // run 1: killed with SIGKILL once a few rows are on disk
    const first = spawn(process.execPath, [cli, ...args], { env: { ...process.env, OPENAI_API_KEY: "" }, stdio: "ignore" });
    const exited = new Promise<NodeJS.Signals | null>((done) => first.on("exit", (_code, signal) => done(signal)));
    const deadline = Date.now() + 60_000;
    while (completeLines(out).length < 4 && first.exitCode === null && Date.now() < deadline) await new Promise((done) => setTimeout(done, 5));
    first.kill("SIGKILL");
    expect(await exited).toBe("SIGKILL");
    const atKill = completeLines(out).length;
    expect(atKill).toBeGreaterThanOrEqual(4);
    expect(atKill).toBeLessThan(PROMPTS);
    expect(existsSync(`${out}.distill-summary.json`)).toBe(false);

    // run 2: the same command
    const second = await tunekit(args);
    // only notes of what was repaired (a partial last line, a row the kill left unrecorded)
    for (const line of second.stderr.split("\n").filter(Boolean)) expect(line).toMatch(/^note: /);
    expect(second.code).toBe(0);
    const summary = expectJsonOutput<DistillSummary>("data-distill", second.stdout);
    expect(summary.prompts_total).toBe(PROMPTS);
    expect(summary.already_done).toBeGreaterThanOrEqual(atKill - 1);
    expect(summary.already_done).toBeGreaterThan(0);
    expect(summary.already_done + summary.answered).toBe(PROMPTS);
    expect(summary).toMatchObject({ failed: 0, rejected: 0, remaining: 0, complete: true, interrupted: false });
    // more requests than the teacher takes: refused, waited out, retried, every prompt answered
    expect(summary.rate_limited).toBeGreaterThan(0);
    expect(summary.retries).toBeGreaterThanOrEqual(summary.rate_limited);
    expect(summary.concurrency.final).toBeLessThan(8);
    expect(summary.usage.prompt_tokens).toBeGreaterThan(0);
    expect(summary.usage.completion_tokens).toBeGreaterThan(0);
    expect(summary.dataset_usage.prompt_tokens).toBeGreaterThan(summary.usage.prompt_tokens);
    expect(summary.cost.this_run).toBeNull();
    expect(summary.cost.basis).toContain("--price-input");
    expect(summary.requests_per_second).toBeGreaterThan(0);
    expect(JSON.parse(readFileSync(`${out}.distill-summary.json`, "utf8"))).toEqual(summary);

    // exactly one row per prompt, told apart by the question asked
    const lines = readFileSync(out, "utf8").split("\n");
    expect(lines.pop()).toBe("");
    expect(lines).toHaveLength(PROMPTS);
    const asked = lines.map((line) => {
      const row = JSON.parse(line) as { messages: Array<{ role: string; content: string }> };
      const last = row.messages.at(-1)!;
      expect(last.role).toBe("assistant");
      expect(last.content).not.toMatch(/OLD ANSWER/);
      expect(row.messages.filter((message) => message.role === "assistant")).toHaveLength(1);
      return row.messages.find((message) => message.role === "user")!.content;
    });
    expect(new Set(asked).size).toBe(PROMPTS);
    expect([...asked].sort()).toEqual(Array.from({ length: PROMPTS }, (_, index) => question(index)).sort());
    expect(completeLines(`${out}.distill-progress`)).toHaveLength(PROMPTS + 1);

    // the toolkit's own validator finds no error in the file
    const validated = await tunekit(["data", "validate", out, "--json"]);
    const report = JSON.parse(validated.stdout);
    expect(report.errors).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.stats.examples).toBe(PROMPTS);

    // a third run has nothing left to do and asks nothing
    const third = await tunekit(args);
    expect(third.code).toBe(0);
    expect(JSON.parse(third.stdout)).toMatchObject({ already_done: PROMPTS, answered: 0, usage: { prompt_tokens: 0 } });
  }, 90_000);

  it("a broken prompts line: one error naming the line, before any request", async () => {
    const prompts = join(workDir, "broken.jsonl");
    writeFileSync(
      prompts,
      `${JSON.stringify({ prompt: "fine" })}\n${JSON.stringify({ prompt: "fine too" })}\n{"prompt": "broken\n${JSON.stringify({ messages: [{ role: "assistant", content: "only an answer" }] })}\n`,
    );
    const out = join(workDir, "broken-out.jsonl");
    const run = await tunekit(["data", "distill", "--teacher", "tiny-llama", "--base-url", baseUrl, "--prompts", prompts, "--out", out, "--json"]);
    expect(run.code).toBe(1);
    const { error } = JSON.parse(run.stdout);
    expect(error.code).toBe("invalid_prompts");
    expect(error.line).toBe(3);
    expect(error.message).toContain("line 3");
    expect(error.problems.map((problem: { line: number }) => problem.line)).toEqual([3, 4]);
    expect(error.problems[1].message).toContain("no message is left");
    expect(existsSync(out)).toBe(false);

    const text = await tunekit(["data", "distill", "--teacher", "tiny-llama", "--base-url", baseUrl, "--prompts", prompts, "--out", out]);
    expect(text.code).toBe(1);
    expect(text.stderr).toMatch(/^error: 2 prompts in .* cannot be sent; the first: line 3 is not valid JSON/);
    expect(text.stderr).toContain("fix:");
  }, 30_000);

  it("an unknown teacher: the server's 404 once, not one error per prompt", async () => {
    const prompts = join(workDir, "few.jsonl");
    writeFileSync(prompts, `${Array.from({ length: 12 }, (_, index) => JSON.stringify({ prompt: question(index) })).join("\n")}\n`);
    const out = join(workDir, "none.jsonl");
    const run = await tunekit(["data", "distill", "--teacher", "no-such-model", "--base-url", baseUrl, "--prompts", prompts, "--out", out, "--concurrency", "4"]);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe("");
    expect(run.stderr.match(/^error:/gm)).toHaveLength(1);
    expect(run.stderr).toContain("HTTP 404");
    expect(run.stderr).toContain("no-such-model");
    expect(run.stderr).toContain("/models");
    expect(existsSync(out)).toBe(false);

    const json = await tunekit(["data", "distill", "--teacher", "no-such-model", "--base-url", baseUrl, "--prompts", prompts, "--out", out, "--json"]);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout).error).toMatchObject({ kind: "not_found", code: "model_not_found", field: "--teacher" });
  }, 30_000);
});
