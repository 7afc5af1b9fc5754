import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import OpenAI, { toFile } from "openai";
import type { FineTuningJob } from "openai/resources/fine-tuning/jobs/jobs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import SqliteDatabase from "better-sqlite3";
import { JOURNAL_FILE } from "../src/jobs/event-journal.js";
import { workerProcesses } from "../src/providers/local/python-worker.js";
import { processGone } from "../src/jobs/run-owner.js";
import { DATABASE_FILE } from "../src/jobs/store/database.js";
import { buildTinyLlama, haveWorker } from "./helpers/tiny-llama.js";

/**
 * `kill -9` of the fine-tuning server in the middle of a real training job, then a restart on the
 * same data dir: the job must end `succeeded` with nothing lost and nothing trained twice. The
 * server is the real CLI (`tunekit server`, dist/cli/main.js) in a child process; the job is
 * a tiny random Llama trained by the real Python worker.
 */

const STEPS = 40;
const CHECKPOINT_EVERY = 4; // and at each epoch end: 32 examples in batches of 8 are 4 steps
const trainingJsonl =
  Array.from({ length: 32 }, (_, index) =>
    JSON.stringify({
      messages: [
        { role: "user", content: `What color is the apple number ${index}?` },
        { role: "assistant", content: `The apple is red.` },
      ],
    }),
  ).join("\n") + "\n";

let workDir: string;
let dataDir: string;
const servers: ChildProcess[] = [];

/** `tunekit server` as a child process; resolves with its URL once it listens. */
async function startServer(): Promise<{ child: ChildProcess; client: OpenAI; recovered: { resumed: string[]; waiting: string[] } }> {
  const settings = [
    "training.device=cpu",
    `training.max_steps=${STEPS}`,
    `training.checkpoint_every=${CHECKPOINT_EVERY}`,
    "training.eval_every=1000",
    "training.threads=1",
    "data.max_seq_len=64",
  ];
  const args = [
    resolve("dist/cli/main.js"),
    "server",
    "--port",
    "0",
    "--json",
    "--no-auth",
    "--data-dir",
    dataDir,
    "--model",
    join(workDir, "tiny-llama"),
    "--max-concurrent-jobs",
    "2",
  ];
  for (const setting of settings) args.push("--set", setting);
  const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, OMP_NUM_THREADS: "1", TOKENIZERS_PARALLELISM: "false" } });
  servers.push(child);
  let stdout = "";
  let stderr = "";
  child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const address = await new Promise<{ url: string; recovered: { resumed: string[]; waiting: string[] } }>((done, fail) => {
    child.stdout!.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
      try {
        done(JSON.parse(stdout) as { url: string; recovered: { resumed: string[]; waiting: string[] } });
      } catch {
        // not all of it yet
      }
    });
    child.on("exit", (code) => fail(new Error(`server exited ${code}: ${stderr}`)));
  });
  return { child, client: new OpenAI({ baseURL: `${address.url}/v1`, apiKey: "unused", maxRetries: 0 }), recovered: address.recovered };
}

async function waitFor<T>(what: string, probe: () => Promise<T | null | undefined | false>, timeoutMs = 90_000, pollMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await probe();
    if (value) return value;
    await new Promise((done) => setTimeout(done, pollMs));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** The last training step in a worker's event journal (0 before the first). */
function lastJournaledStep(runDir: string): number {
  const path = join(runDir, JOURNAL_FILE);
  if (!existsSync(path)) return 0;
  let step = 0;
  for (const line of readFileSync(path, "utf8").split("\n")) {
    try {
      const event = JSON.parse(line) as { type?: string; step?: number };
      if (event.type === "metrics" && typeof event.step === "number") step = event.step;
    } catch {
      // a line being written
    }
  }
  return step;
}

/** Training steps of a job's metrics events in the store's SQLite file. */
function storedSteps(jobId: string): number[] {
  const database = new SqliteDatabase(join(dataDir, DATABASE_FILE), { readonly: true });
  try {
    const rows = database.prepare("select data from job_events where job_id = ? and type = 'metrics' order by sequence").all(jobId) as Array<{ data: string }>;
    return rows
      .map((row) => JSON.parse(row.data) as { step: number; train_loss?: number })
      .filter((data) => data.train_loss !== undefined)
      .map((data) => data.step);
  } finally {
    database.close();
  }
}

async function allEvents(client: OpenAI, jobId: string) {
  const events = [];
  for await (const event of client.fineTuning.jobs.listEvents(jobId, { limit: 100 })) events.push(event);
  return events.reverse(); // oldest first
}

function trainingMetrics(events: Awaited<ReturnType<typeof allEvents>>) {
  return events
    .filter((event) => event.type === "metrics" && (event.data as { train_loss?: number } | null)?.train_loss !== undefined)
    .map((event) => event.data as { step: number; train_loss: number });
}

async function finished(client: OpenAI, jobId: string): Promise<FineTuningJob> {
  return waitFor(`job ${jobId} to end`, async () => {
    const job = await client.fineTuning.jobs.retrieve(jobId);
    return ["succeeded", "failed", "cancelled"].includes(job.status) ? job : null;
  });
}

describe.skipIf(!haveWorker)("kill -9 of the server during training", () => {
  beforeAll(() => {
    workDir = mkdtempSync(join(tmpdir(), "tunekit-recovery-"));
    dataDir = join(workDir, "data");
    buildTinyLlama(join(workDir, "tiny-llama"));
  });

  afterAll(async () => {
    for (const server of servers) if (server.exitCode === null && server.signalCode === null) server.kill("SIGTERM");
    await Promise.all(servers.map((server) => (server.exitCode === null && server.signalCode === null ? new Promise((done) => server.on("exit", done)) : null)));
    // never leave a worker of this test behind (only ours: matched by this test's run dirs)
    const runs = join(dataDir ?? "", "runs");
    for (const run of existsSync(runs) ? readdirSync(runs) : []) for (const pid of workerProcesses(join(runs, run))) process.kill(pid, "SIGKILL");
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  it("resumes both jobs after a restart, the one whose worker was killed too from its last complete checkpoint; each ends succeeded with every step once, exactly like an uninterrupted run", async () => {
    const first = await startServer();
    const file = await first.client.files.create({ file: await toFile(Buffer.from(trainingJsonl), "train.jsonl"), purpose: "fine-tune" });
    // `job`: its worker outlives the server long enough to checkpoint (the usual kill -9);
    // `crashed`: its worker is SIGKILLed with the server (as by the OOM killer or a power cut)
    const create = (client: OpenAI) => client.fineTuning.jobs.create({ model: "tiny-llama", training_file: file.id, seed: 1234, hyperparameters: { batch_size: 8 } });
    const job = await create(first.client);
    const crashed = await create(first.client);
    const runDir = join(dataDir, "runs", job.id);
    const crashedRunDir = join(dataDir, "runs", crashed.id);

    // kill in the middle of the run, two steps after a checkpoint of the crashed job (so that the
    // store has seen a step after its last checkpoint), read from the workers' journals (fast)
    await waitFor(
      "both jobs past a checkpoint",
      async () => {
        const crashedStep = lastJournaledStep(crashedRunDir);
        return lastJournaledStep(runDir) > CHECKPOINT_EVERY && crashedStep > CHECKPOINT_EVERY && crashedStep % CHECKPOINT_EVERY === 2;
      },
      90_000,
      5,
    );
    const workers = workerProcesses(runDir);
    const crashedWorkers = workerProcesses(crashedRunDir);
    expect(workers).toHaveLength(1);
    expect(crashedWorkers).toHaveLength(1);
    first.child.kill("SIGKILL");
    for (const pid of crashedWorkers) process.kill(pid, "SIGKILL");
    await new Promise((done) => first.child.once("exit", done));
    expect(lastJournaledStep(runDir)).toBeLessThan(STEPS); // killed in the middle, not after the end

    // a restart at once: the surviving worker is probably still writing its checkpoint
    // what the store holds of the crashed job (read from its SQLite file: no server is running)
    const crashedStepsStored = storedSteps(crashed.id);
    const second = await startServer();
    expect([...second.recovered.resumed, ...second.recovered.waiting].sort()).toEqual([job.id, crashed.id].sort());
    // the same job (same file, seed, hyperparameters) without interruption, next to them
    const reference = await create(second.client);

    const [recovered, recoveredCrashed, uninterrupted] = await Promise.all([job.id, crashed.id, reference.id].map((id) => finished(second.client, id)));
    expect(uninterrupted!.status).toBe("succeeded");
    const referenceMetrics = trainingMetrics(await allEvents(second.client, reference.id));
    expect(referenceMetrics.map((metric) => metric.step)).toEqual(Array.from({ length: STEPS }, (_, index) => index + 1));

    // the worker of the killed server stopped by itself (PR_SET_PDEATHSIG) and none is left
    expect([...workers, ...crashedWorkers].every(processGone)).toBe(true);
    expect([...workerProcesses(runDir), ...workerProcesses(crashedRunDir)]).toEqual([]);

    const checked: Record<string, { resumeStep: number; messages: string[] }> = {};
    for (const [current, final] of [
      [job, recovered],
      [crashed, recoveredCrashed],
    ] as const) {
      const events = await allEvents(second.client, current.id);
      const messages = events.map((event) => event.message);
      expect(final!.status, messages.join("\n")).toBe("succeeded");

      // exactly one resume, from a checkpoint; the resumed run starts right after it
      const resumedAt = events.findIndex((event) => event.message.startsWith("Resumed training from checkpoint"));
      expect(messages.filter((message) => message.startsWith("Resumed training from checkpoint"))).toHaveLength(1);
      expect(messages.filter((message) => message.startsWith("The server stopped while this job ran; queued to resume"))).toHaveLength(1);
      const resumedFrom = (events[resumedAt]!.data as { resumed_from: string }).resumed_from;
      const resumeStep = Number(/step-(\d+)$/.exec(resumedFrom)![1]);
      expect(resumeStep).toBeGreaterThanOrEqual(CHECKPOINT_EVERY);
      expect(resumeStep).toBeLessThan(STEPS);
      expect(trainingMetrics(events.slice(resumedAt))[0]!.step).toBe(resumeStep + 1);

      // events contiguous: every step once, in order; no event twice
      const metrics = trainingMetrics(events);
      expect(metrics.map((metric) => metric.step)).toEqual(Array.from({ length: STEPS }, (_, index) => index + 1));
      expect(new Set(events.map((event) => event.id)).size).toBe(events.length);

      // the checkpoint it resumed from is listed, also when only the worker's journal saw it written
      const checkpoints = (await second.client.fineTuning.jobs.checkpoints.list(current.id, { limit: 100 })).data.map((checkpoint) => checkpoint.step_number);
      expect(checkpoints).toContain(resumeStep);
      expect(new Set(checkpoints).size).toBe(checkpoints.length);

      // no step trained twice into the final model: the same losses and tokens as the uninterrupted run
      for (const [index, metric] of metrics.entries())
        expect(Math.abs(metric.train_loss - referenceMetrics[index]!.train_loss) / referenceMetrics[index]!.train_loss).toBeLessThan(1e-4);
      expect(final!.trained_tokens).toBe(uninterrupted!.trained_tokens);
      const summary = JSON.parse(readFileSync(join(dataDir, "runs", current.id, "summary.json"), "utf8")) as { steps: number };
      expect(summary.steps).toBe(STEPS);
      checked[current.id] = { resumeStep, messages };
    }

    // the worker's stop after the server died reached the events through its journal
    const survived = checked[job.id]!;
    expect(survived.messages).toContain(`Worker stopped at step ${survived.resumeStep} after writing a checkpoint`);
    // the killed worker resumed from the last checkpoint complete on disk; the steps the store had
    // seen after it were dropped and said to be trained again
    const killed = checked[crashed.id]!;
    expect(killed.messages.some((message) => message.startsWith("Worker stopped"))).toBe(false);
    expect(killed.resumeStep).toBeLessThanOrEqual(Math.max(...crashedStepsStored) + 1);
    const lost = crashedStepsStored.filter((step) => step > killed.resumeStep);
    if (lost.length > 0)
      expect(
        killed.messages.some((message) =>
          new RegExp(`^Steps? ${killed.resumeStep + 1}\\b.* ran after the checkpoint at step ${killed.resumeStep} and (is|are) trained again$`).test(message),
        ),
      ).toBe(true);
  }, 150_000);
});
