/**
 * `tunekit migrate openai` end to end, as a team leaving OpenAI runs it: a Tunekit server plays
 * OpenAI (its API is OpenAI's fine-tuning API, and the `openai` provider drives it unchanged),
 * seeded with a succeeded fine-tuning job; the CLI migrates that job to a second Tunekit server,
 * which trains it for real (tiny random Llama, the real worker), and writes the parity report that
 * scores the old and the new fine-tuned model on the held-out examples.
 */
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import OpenAI, { toFile } from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectJsonOutput } from "./helpers/cli-json-contract.js";
import { LocalExecutionBackend } from "../src/providers/local/local-execution-backend.js";
import { startServer, type RunningServer } from "../src/server/tunekit-server.js";
import { buildTinyLlama, haveWorker, python, workerRoot } from "./helpers/tiny-llama.js";

const CLI = resolve("dist/cli/main.js");
const OPENAI_BASE = "gpt-4o-mini-2024-07-18";
const THINGS = [
  "apple",
  "sky",
  "grass",
  "banana",
  "coal",
  "snow",
  "plum",
  "carrot",
  "lemon",
  "cherry",
  "night",
  "cloud",
  "milk",
  "ink",
  "rose",
  "leaf",
  "sun",
  "sea",
  "fire",
  "ash",
];

let workDir: string;
let openaiStandIn: RunningServer;
let tunekit: RunningServer;
let openaiKey: string;
let tunekitKey: string;
let oldJob: OpenAI.FineTuning.FineTuningJob;

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** the CLI as a user runs it, asynchronously: both servers live in this process */
function cli(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { env: { ...process.env, TUNEKIT_SERVER: "", TUNEKIT_API_KEY: "", OPENAI_BASE_URL: "", ...env }, maxBuffer: 64 << 20, timeout: 240_000 },
      (error, stdout, stderr) => {
        done({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout, stderr });
      },
    );
  });
}

async function serverWith(dataDir: string, models: string[]): Promise<RunningServer> {
  return startServer({
    port: 0,
    dataDir,
    models,
    backend: new LocalExecutionBackend({ python, workerRoot }),
    trainingDefaults: { device: "cpu", threads: 1, max_steps: 6, checkpoint_every: 100 },
    maxSeqLen: 64,
    serve: { threads: 1 },
    webRoot: null,
  });
}

async function waitForJob(client: OpenAI, id: string): Promise<OpenAI.FineTuning.FineTuningJob> {
  const deadline = Date.now() + 150_000;
  for (;;) {
    const job = await client.fineTuning.jobs.retrieve(id);
    if (["succeeded", "failed", "cancelled"].includes(job.status)) return job;
    if (Date.now() > deadline) throw new Error(`job ${id} still ${job.status}`);
    await new Promise((done) => setTimeout(done, 250));
  }
}

describe.skipIf(!haveWorker)("tunekit migrate openai", () => {
  beforeAll(async () => {
    workDir = mkdtempSync(join(tmpdir(), "tunekit-migrate-"));
    const model = buildTinyLlama(join(workDir, "tiny-llama"));
    const second = buildTinyLlama(join(workDir, "tiny-llama-b"));
    // the stand-in serves a tiny model under OpenAI's name, so the job looks like the real one
    openaiStandIn = await serverWith(join(workDir, "openai-data"), [buildTinyLlama(join(workDir, OPENAI_BASE))]);
    tunekit = await serverWith(join(workDir, "tunekit-data"), [model, second]);
    openaiKey = (await openaiStandIn.services.keys.createKey("acme")).key;
    tunekitKey = (await tunekit.services.keys.createKey("acme")).key;
    // the organisation's job on "OpenAI": a training file without a validation file
    const openai = new OpenAI({ baseURL: `${openaiStandIn.url}/v1`, apiKey: openaiKey, maxRetries: 0 });
    const lines = THINGS.map((thing) =>
      JSON.stringify({
        messages: [
          { role: "user", content: `What color is the ${thing}?` },
          { role: "assistant", content: `The ${thing} is red.` },
        ],
      }),
    );
    const file = await openai.files.create({ file: await toFile(Buffer.from(`${lines.join("\n")}\n`), "colors.jsonl"), purpose: "fine-tune" });
    const created = await openai.fineTuning.jobs.create({
      model: OPENAI_BASE,
      training_file: file.id,
      suffix: "colors",
      seed: 7,
      method: { type: "supervised", supervised: { hyperparameters: { n_epochs: 2, batch_size: 2, learning_rate_multiplier: 1.5 } } },
      metadata: { team: "support" },
    });
    oldJob = await waitForJob(openai, created.id);
    expect(oldJob.status, JSON.stringify(oldJob.error)).toBe("succeeded");
    // a second job that failed (bad file id is refused at create; a cancelled one stands in)
    const cancelled = await openai.fineTuning.jobs.create({ model: OPENAI_BASE, training_file: file.id, suffix: "cancelled" });
    await openai.fineTuning.jobs.cancel(cancelled.id);
  }, 240_000);

  afterAll(async () => {
    await openaiStandIn?.close();
    await tunekit?.close();
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  it("moves the succeeded job with its data and settings, trains it on the second server, and writes the parity report", async () => {
    const out = join(workDir, "migration");
    const result = await cli(
      ["migrate", "openai", "--openai-base-url", `${openaiStandIn.url}/v1`, "--server", tunekit.url, "--api-key", tunekitKey, "--out", out, "--parity", "--json"],
      { OPENAI_API_KEY: openaiKey },
    );
    expect(result.code, result.stderr + result.stdout).toBe(0);
    const migration = expectJsonOutput<{
      jobs: Array<
        Record<string, unknown> & {
          changes: Array<{ setting: string; openai: string; tunekit: string; changed: boolean }>;
          proposal: { model: string; reason: string; candidates: Array<{ model: string; eligible: boolean }> };
        }
      >;
    }>("migrate-openai", result.stdout);
    // the cancelled job is left out (no model to replace), the succeeded one migrated
    expect(migration.jobs.map((job) => job.job_id)).toEqual([oldJob.id]);
    const [job] = migration.jobs;
    expect(job).toMatchObject({ old_model: oldJob.fine_tuned_model, new_status: "succeeded", error: null });
    expect(job!.proposal.candidates.map((row) => row.model).sort()).toEqual(["tiny-llama", "tiny-llama-b"]);
    expect(job!.proposal.reason).toMatch(/^replaces gpt-4o-mini-2024-07-18: .*parameters, context .* tokens; every example fits/);
    // the price table's lifecycle of the model being left
    const warnings = job!.warnings as string[];
    expect(warnings[0]).toMatch(/takes no new fine-tuning job for `gpt-4o-mini-2024-07-18` from 2027-01-06/);
    expect(warnings[1]).toContain(`\`${oldJob.fine_tuned_model}\` stops answering on 2027-01-14`);

    // settings: epochs, batch size, seed and suffix carried; the multiplier reset with the reason
    const change = (setting: string) => job!.changes.find((row) => row.setting === setting)!;
    expect(change("n_epochs")).toMatchObject({ openai: "2", tunekit: "2", changed: false });
    expect(change("batch_size")).toMatchObject({ openai: "2", tunekit: "2" });
    expect(change("seed")).toMatchObject({ openai: "7", tunekit: "7" });
    expect(change("suffix")).toMatchObject({ openai: "colors", tunekit: "colors" });
    expect(change("learning_rate_multiplier")).toMatchObject({ openai: "1.5", tunekit: "auto", changed: true });
    expect(change("validation file")).toMatchObject({ tunekit: "held-out split", changed: true });

    // the new job on the Tunekit server, as its API reports it
    const tunekitClient = new OpenAI({ baseURL: `${tunekit.url}/v1`, apiKey: tunekitKey, maxRetries: 0 });
    const newJob = await tunekitClient.fineTuning.jobs.retrieve(job!.new_job_id as string);
    expect(newJob).toMatchObject({ status: "succeeded", seed: 7, user_provided_suffix: "colors", fine_tuned_model: job!.new_fine_tuned_model });
    expect(newJob.metadata).toEqual({ team: "support", migrated_from: oldJob.id, migrated_from_model: oldJob.fine_tuned_model });
    expect(newJob.method?.supervised?.hyperparameters).toMatchObject({ n_epochs: 2, batch_size: 2 });
    expect(newJob.validation_file).not.toBeNull();

    // the data came along whole: the downloaded file is byte-identical, and the split covers it
    const folder = join(out, oldJob.id);
    const openai = new OpenAI({ baseURL: `${openaiStandIn.url}/v1`, apiKey: openaiKey, maxRetries: 0 });
    const original = Buffer.from(await (await openai.files.content(oldJob.training_file)).arrayBuffer());
    expect(readFileSync(join(folder, "training.jsonl")).equals(original)).toBe(true);
    const count = (file: string) => readFileSync(join(folder, file), "utf8").split("\n").filter(Boolean).length;
    expect(count("training.train.jsonl") + count("training.validation.jsonl")).toBe(THINGS.length);
    expect(count("training.validation.jsonl")).toBeGreaterThanOrEqual(1);

    // the parity report: both models on the held-out examples, prices, latency and a verdict
    const report = JSON.parse(readFileSync(join(folder, "parity", "report.json"), "utf8")) as {
      verdict: string;
      conclusion: string;
      examples: number;
      old: { model: string; latency: { p50_ms: number }; per1000_requests: number | null };
      new: { model: string; latency: { p50_ms: number } };
      difference: { mean: number; low: number; high: number; n: number };
    };
    expect(report.examples).toBe(count("training.validation.jsonl"));
    expect(report.old.model).toBe(oldJob.fine_tuned_model);
    expect(report.new.model).toBe(newJob.fine_tuned_model);
    expect(report.old.latency.p50_ms).toBeGreaterThan(0);
    expect(report.new.latency.p50_ms).toBeGreaterThan(0);
    expect(report.difference.n).toBe(report.examples);
    expect(["equivalent", "better", "worse"]).toContain(report.verdict);
    expect(report.conclusion.startsWith(report.verdict)).toBe(true);
    const markdown = readFileSync(join(folder, "parity", "report.md"), "utf8");
    expect(markdown.trimEnd().endsWith(`**Verdict: ${report.conclusion}.**`)).toBe(true);
    expect(readFileSync(join(folder, "parity", "report.html"), "utf8")).toContain("per 1,000 requests");
    const record = JSON.parse(readFileSync(join(folder, "migration.json"), "utf8")) as { parity: { verdict: string }; target: { jobId: string } };
    expect(record).toMatchObject({ parity: { verdict: report.verdict }, target: { jobId: newJob.id } });
    console.log(`parity report of the migration test:\n${markdown}`);

    // parity on its own, from the folder (what a user runs later), agrees
    const again = await cli(["migrate", "parity", folder, "--openai-base-url", `${openaiStandIn.url}/v1`, "--server", tunekit.url, "--api-key", tunekitKey, "--json"], {
      OPENAI_API_KEY: openaiKey,
    });
    expect(again.code, again.stderr + again.stdout).toBe(0);
    expect(expectJsonOutput("migrate-parity", again.stdout)).toMatchObject({ verdict: report.verdict, conclusion: report.conclusion });
  }, 300_000);

  it("a dry run proposes and writes the settings but creates nothing; --local writes a tunekit.yaml", async () => {
    const tunekitClient = new OpenAI({ baseURL: `${tunekit.url}/v1`, apiKey: tunekitKey, maxRetries: 0 });
    const before = (await tunekitClient.fineTuning.jobs.list()).data.length;
    const dry = await cli(
      [
        "migrate",
        "openai",
        oldJob.id,
        "--openai-base-url",
        `${openaiStandIn.url}/v1`,
        "--server",
        tunekit.url,
        "--api-key",
        tunekitKey,
        "--out",
        join(workDir, "dry"),
        "--dry-run",
        "--model",
        "tiny-llama-b",
        "--needed-until",
        "2027-06-30",
      ],
      { OPENAI_API_KEY: openaiKey },
    );
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain("* tiny-llama-b: ");
    expect(dry.stdout).toContain("stops answering on 2027-01-14, before 2027-06-30");
    expect(dry.stdout).toMatch(/\* learning_rate_multiplier +1\.5 +auto/);
    expect((await tunekitClient.fineTuning.jobs.list()).data.length).toBe(before);
    expect(JSON.parse(readFileSync(join(workDir, "dry", oldJob.id, "migration.json"), "utf8")).target).toMatchObject({ kind: "dry-run", model: "tiny-llama-b" });

    const local = await cli(
      ["migrate", "openai", oldJob.id, "--openai-base-url", `${openaiStandIn.url}/v1`, "--out", join(workDir, "local"), "--local", "--model", join(workDir, "tiny-llama")],
      { OPENAI_API_KEY: openaiKey },
    );
    expect(local.code, local.stderr).toBe(0);
    const yaml = readFileSync(join(workDir, "local", oldJob.id, "tunekit.yaml"), "utf8");
    expect(yaml).toMatch(/\n {2}train: training\.train\.jsonl\n/);
    expect(yaml).toMatch(/\n {2}epochs: 2\n/);
    expect(yaml).toMatch(/\n {2}seed: 7\n/);
    expect(yaml).toMatch(/\n {2}suffix: colors\n/);
    expect(local.stdout).toContain(`tunekit train -c ${join(workDir, "local", oldJob.id, "tunekit.yaml")}`);
  }, 120_000);

  it("says what is wrong: a missing key, an unknown job, parity on a folder that is not a migration", async () => {
    const noKey = await cli(["migrate", "openai", "--openai-base-url", `${openaiStandIn.url}/v1`, "--out", join(workDir, "x")], { OPENAI_API_KEY: "" });
    expect(noKey.code).toBe(2);
    expect(noKey.stderr).toContain("`OPENAI_API_KEY` is not set");

    const unknown = await cli(
      [
        "migrate",
        "openai",
        "ftjob-doesnotexist000000",
        "--openai-base-url",
        `${openaiStandIn.url}/v1`,
        "--server",
        tunekit.url,
        "--api-key",
        tunekitKey,
        "--out",
        join(workDir, "x"),
      ],
      { OPENAI_API_KEY: openaiKey },
    );
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toContain("ftjob-doesnotexist000000");

    const notMigration = await cli(["migrate", "parity", workDir]);
    expect(notMigration.code).toBe(2);
    expect(notMigration.stderr).toContain("migration.json");
    expect(existsSync(join(workDir, "x"))).toBe(false);
  }, 60_000);
});
