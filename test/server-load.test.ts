import { createHash } from "node:crypto";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import OpenAI, { toFile } from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalExecutionBackend } from "../src/providers/local/local-execution-backend.js";
import { startServer, type RunningServer } from "../src/server/tunekit-server.js";
import { buildTinyLlama, haveWorker, python, workerRoot } from "./helpers/tiny-llama.js";

/*
 * Load: many concurrent uploads through the official SDK stored intact, and a long queue of tiny real
 * training jobs (the Python worker, a tiny random Llama built here) that all end, start in creation
 * order and never run more than `maxConcurrentJobs` at once. Durations are printed for the record
 * (`LOAD_JOBS=10` shortens the queue while working on this file; the suite runs 100).
 */

const UPLOADS = 50;
const UPLOAD_BYTES = 3 << 20;
const JOBS = Number(process.env.LOAD_JOBS ?? 100);
const MAX_CONCURRENT_JOBS = 2;
const FINAL = ["succeeded", "failed", "cancelled"];

let workDir: string;
let server: RunningServer;
let client: OpenAI;

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

/** About `size` bytes of valid chat JSONL whose every line names `marker`, so no two files are alike. */
function chatJsonl(marker: string, size: number): Buffer {
  const lines: string[] = [];
  let length = 0;
  for (let index = 0; length < size; index += 1) {
    const line =
      JSON.stringify({
        messages: [
          { role: "user", content: `${marker}: what color is apple ${index}?` },
          { role: "assistant", content: `Apple ${index} of ${marker} is red.` },
        ],
      }) + "\n";
    lines.push(line);
    length += line.length;
  }
  return Buffer.from(lines.join(""));
}

const smallJsonl = Buffer.from(
  Array.from({ length: 16 }, (_, index) =>
    JSON.stringify({
      messages: [
        { role: "user", content: `What color is the apple number ${index}?` },
        { role: "assistant", content: "The apple is red." },
      ],
    }),
  ).join("\n") + "\n",
);

async function waitFor<T>(what: string, probe: () => Promise<T | null | undefined | false>, timeoutMs: number, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await probe();
    if (value) return value;
    await new Promise((done) => setTimeout(done, everyMs));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Every job of the project (pages of 100 through the SDK), newest first. */
async function allJobs(): Promise<OpenAI.FineTuning.FineTuningJob[]> {
  const jobs: OpenAI.FineTuning.FineTuningJob[] = [];
  for await (const job of client.fineTuning.jobs.list({ limit: 100 })) jobs.push(job);
  return jobs;
}

/**
 * Where a job's time goes, from its events (mean seconds): worker spawn + torch import up to the
 * worker's `started`, model/library loading and training up to `done`, then the worker's exit; and
 * how long a freed slot waits for the next start.
 */
function phases(
  events: Array<{ job_id: string; created_at: number; message: string }>,
  startEvents: Array<{ job_id: string; created_at: number }>,
  lastEventAt: Map<string, number>,
): string {
  const at = (jobId: string, prefix: string) => events.find((event) => event.job_id === jobId && event.message.startsWith(prefix))?.created_at ?? Number.NaN;
  const mean = (values: number[]) => (values.reduce((sum, value) => sum + value, 0) / values.length / 1000).toFixed(2);
  const spawn = startEvents.map((event) => at(event.job_id, "Training started") - event.created_at);
  const training = startEvents.map((event) => at(event.job_id, "Training finished") - at(event.job_id, "Training started"));
  const exit = startEvents.map((event) => lastEventAt.get(event.job_id)! - at(event.job_id, "Training finished"));
  const total = startEvents.map((event) => lastEventAt.get(event.job_id)! - event.created_at);
  const ends = [...lastEventAt.values()].sort((a, b) => a - b);
  const handoff = startEvents.flatMap((event) => {
    const freed = ends.filter((end) => end < event.created_at).at(-1);
    return freed === undefined ? [] : [event.created_at - freed];
  });
  return `per job ${mean(total)} s = spawn + torch import ${mean(spawn)} s, loading + training ${mean(training)} s, exit after training ${mean(exit)} s; freed slot to next start ${mean(handoff)} s (max ${(Math.max(...handoff) / 1000).toFixed(2)} s)`;
}

describe.skipIf(!haveWorker)("the server under load", () => {
  beforeAll(async () => {
    workDir = mkdtempSync(join(tmpdir(), "tunekit-load-"));
    // a tiny random Llama + BPE tokenizer, built the way the worker's own tests build it
    buildTinyLlama(join(workDir, "tiny-llama"));
    server = await startServer({
      port: 0,
      dataDir: join(workDir, "data"),
      noAuth: true,
      models: [join(workDir, "tiny-llama")],
      backend: new LocalExecutionBackend({ python, workerRoot }),
      maxConcurrentJobs: MAX_CONCURRENT_JOBS,
      trainingDefaults: { device: "cpu", max_steps: 1, threads: 1 },
      maxSeqLen: 64,
    });
    client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "unused", maxRetries: 0, timeout: 300_000 });
  }, 120_000);

  afterAll(async () => {
    await server?.close();
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  it(`stores ${UPLOADS} concurrent multi-MB uploads intact`, async () => {
    const contents = Array.from({ length: UPLOADS }, (_, index) => chatJsonl(`upload-${index}`, UPLOAD_BYTES));
    const hashes = contents.map(sha256);
    expect(new Set(hashes).size).toBe(UPLOADS);

    const started = performance.now();
    const uploaded = await Promise.all(contents.map(async (content, index) => client.files.create({ file: await toFile(content, `load-${index}.jsonl`), purpose: "fine-tune" })));
    const uploadSeconds = (performance.now() - started) / 1000;
    const totalMegabytes = contents.reduce((sum, content) => sum + content.length, 0) / (1 << 20);
    console.log(`[load] ${UPLOADS} concurrent uploads, ${totalMegabytes.toFixed(1)} MiB: ${uploadSeconds.toFixed(2)} s, ${(totalMegabytes / uploadSeconds).toFixed(1)} MiB/s`);

    expect(new Set(uploaded.map((file) => file.id)).size).toBe(UPLOADS);
    for (const [index, file] of uploaded.entries()) {
      expect(file).toMatchObject({ object: "file", purpose: "fine-tune", filename: `load-${index}.jsonl`, bytes: contents[index]!.length });
    }
    // every upload's bytes come back unchanged, each under its own id
    for (const [index, file] of uploaded.entries()) {
      const downloaded = new Uint8Array(await (await client.files.content(file.id)).arrayBuffer());
      expect(downloaded.length).toBe(contents[index]!.length);
      expect(sha256(downloaded), `content of ${file.id} (upload ${index})`).toBe(hashes[index]);
    }
    // big files may answer `uploaded` and validate in the background: all of them end `processed`
    const statuses = await waitFor(
      "every upload to be validated",
      async () => {
        const current = await Promise.all(uploaded.map((file) => client.files.retrieve(file.id)));
        return current.every((file) => file.status !== "uploaded") ? current : null;
      },
      120_000,
      250,
    );
    expect(statuses.map((file) => [file.id, file.status, file.status_details])).toEqual(uploaded.map((file) => [file.id, "processed", null]));

    const listed: string[] = [];
    for await (const file of client.files.list({ purpose: "fine-tune", limit: 20 })) listed.push(file.id);
    expect(listed.sort()).toEqual(uploaded.map((file) => file.id).sort());
    // nothing half-written is left in the file store
    const onDisk = readdirSync(server.services.files.directory);
    expect(onDisk.filter((name) => name.endsWith(".part"))).toEqual([]);
    expect(onDisk.sort()).toEqual(expect.arrayContaining(uploaded.map((file) => file.id).sort()));
  }, 180_000);

  it(`runs ${JOBS} queued tiny jobs to \`succeeded\` in creation order, never more than ${MAX_CONCURRENT_JOBS} at once`, async () => {
    const file = await client.files.create({ file: await toFile(smallJsonl, "tiny.jsonl"), purpose: "fine-tune" });
    expect(file.status, file.status_details ?? "").toBe("processed");
    const ended = async (jobId: string) => {
      const job = await client.fineTuning.jobs.retrieve(jobId);
      return FINAL.includes(job.status) ? job : null;
    };
    const describeFailure = async (jobId: string) =>
      (await client.fineTuning.jobs.listEvents(jobId, { limit: 100 })).data
        .reverse()
        .map((event) => event.message)
        .join("\n");

    // one job alone first: what one tiny job costs end to end on this machine
    const aloneStarted = performance.now();
    const alone = await client.fineTuning.jobs.create({ model: "tiny-llama", training_file: file.id });
    const aloneEnded = await waitFor("the first job to end", () => ended(alone.id), 120_000, 50);
    const aloneSeconds = (performance.now() - aloneStarted) / 1000;
    expect(aloneEnded.status, await describeFailure(alone.id)).toBe("succeeded");
    console.log(`[load] one tiny job alone: ${aloneSeconds.toFixed(2)} s end to end`);

    let mostSeenRunning = 0;
    const sampler = setInterval(() => {
      mostSeenRunning = Math.max(mostSeenRunning, server.scheduler.runningJobIds.length);
    }, 5);
    const started = performance.now();
    const created: OpenAI.FineTuning.FineTuningJob[] = [];
    try {
      for (let index = 0; index < JOBS; index += 1) {
        created.push(await client.fineTuning.jobs.create({ model: "tiny-llama", training_file: file.id, metadata: { index: String(index) } }));
      }
      const createSeconds = (performance.now() - started) / 1000;
      console.log(`[load] ${JOBS} jobs created back to back in ${createSeconds.toFixed(2)} s`);
      await waitFor(
        `all ${JOBS} jobs to end`,
        async () => {
          const jobs = await allJobs();
          return created.every((job) => FINAL.includes(jobs.find((current) => current.id === job.id)?.status ?? "")) ? jobs : null;
        },
        JOBS * 10_000,
        500,
      );
    } finally {
      clearInterval(sampler);
    }
    const wallSeconds = (performance.now() - started) / 1000;
    console.log(
      `[load] ${JOBS} tiny jobs, ${MAX_CONCURRENT_JOBS} at a time: ${wallSeconds.toFixed(1)} s wall, ${(wallSeconds / JOBS).toFixed(2)} s per job; most seen running at once: ${mostSeenRunning}`,
    );

    // every job succeeded (or the failures say why)
    const finals = await Promise.all(created.map((job) => client.fineTuning.jobs.retrieve(job.id)));
    const failures = await Promise.all(
      finals.filter((job) => job.status !== "succeeded").map(async (job) => `${job.id} ${job.status}: ${JSON.stringify(job.error)}\n${await describeFailure(job.id)}`),
    );
    expect(failures.join("\n\n")).toBe("");
    for (const job of finals) expect(job.fine_tuned_model).toBe(`ft:tiny-llama::${job.id.slice(-8)}`);

    // creation order: the SDK's view (whole seconds) never goes backwards ...
    const startedSeconds = await Promise.all(
      finals.map(
        async (job) =>
          (await client.fineTuning.jobs.listEvents(job.id, { limit: 100 })).data.find((event) => event.message === "Fine-tuning job started")?.created_at ?? Number.NaN,
      ),
    );
    const createdSeconds = finals.map((job) => job.created_at);
    expect(createdSeconds).toEqual([...createdSeconds].sort((a, b) => a - b));
    expect(startedSeconds.every(Number.isFinite)).toBe(true);
    expect(startedSeconds).toEqual([...startedSeconds].sort((a, b) => a - b));
    for (const [index, job] of finals.entries()) expect(job.finished_at!).toBeGreaterThanOrEqual(startedSeconds[index]!);

    // ... and the store's millisecond event times (one process-wide increasing clock) put each job's
    // start after the previous job's start, each job started exactly once
    const ids = created.map((job) => job.id);
    const events = await server.database.selectFrom("job_events").select(["job_id", "created_at", "message"]).where("job_id", "in", ids).orderBy("created_at", "asc").execute();
    const startEvents = events.filter((event) => event.message === "Fine-tuning job started" || event.message === "Fine-tuning job resumed");
    expect(startEvents.map((event) => `${event.job_id} ${event.message}`)).toEqual(ids.map((id) => `${id} Fine-tuning job started`));
    const createdRows = await server.database.selectFrom("jobs").select(["id", "created_at"]).where("id", "in", ids).orderBy("created_at", "asc").execute();
    expect(createdRows.map((row) => row.id)).toEqual(ids);

    // at no moment more than the limit: each job runs from its start event to its last event
    const lastEventAt = new Map<string, number>();
    for (const event of events) lastEventAt.set(event.job_id, Math.max(lastEventAt.get(event.job_id) ?? 0, event.created_at));
    const changes = startEvents.flatMap((event) => [
      { at: event.created_at, change: +1 },
      { at: lastEventAt.get(event.job_id)!, change: -1 },
    ]);
    changes.sort((a, b) => a.at - b.at || a.change - b.change);
    let runningNow = 0;
    let mostRunningFromEvents = 0;
    for (const { change } of changes) {
      runningNow += change;
      mostRunningFromEvents = Math.max(mostRunningFromEvents, runningNow);
    }
    console.log(`[load] from the event log: most running at once ${mostRunningFromEvents}; ${phases(events, startEvents, lastEventAt)}`);
    // the limit holds, and the queue did use both slots (so the check could have caught an excess)
    expect(mostRunningFromEvents).toBe(MAX_CONCURRENT_JOBS);
    expect(mostSeenRunning).toBe(MAX_CONCURRENT_JOBS);
    expect(server.scheduler.runningJobIds).toEqual([]);
  }, 1_200_000);
});
